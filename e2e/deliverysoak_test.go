//go:build soak

package e2e

import "testing"

// TestSoakDelivery is TestDeliveryRandom at length (`make soak`): 1,000
// random chats per mode unless PI2PI_DELIVERY_ITERATIONS says otherwise.
func TestSoakDelivery(t *testing.T) {
	runDeliveryRandom(t, envInt("PI2PI_DELIVERY_ITERATIONS", 1000))
}
