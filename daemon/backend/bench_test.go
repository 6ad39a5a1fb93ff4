package backend

import (
	"testing"

	"github.com/pi2pi/pi2pi/internal/control/controltest"
	"github.com/pi2pi/pi2pi/internal/transport"
)

// BenchmarkBulkInProcess measures chat throughput from one control client
// to the other through two in-process terminals: the same path as the
// binaries' BenchmarkBulk in daemon/, but in one process so that
// -cpuprofile and -memprofile see both daemons and both clients.
func BenchmarkBulkInProcess(b *testing.B) {
	for _, mode := range []transport.Mode{transport.Plain, transport.Secure} {
		b.Run(string(mode), func(b *testing.B) {
			_, _, _, ali, bianca := pair(b, mode)
			controltest.Bulk(b, ali, bianca, "bianca")
		})
	}
}
