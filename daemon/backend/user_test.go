package backend

import (
	"context"
	"net/netip"
	"time"

	"github.com/pi2pi/pi2pi/internal/control/controltest"
	"github.com/pi2pi/pi2pi/internal/testbin"
)

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }

// freePort finds a TCP port free on every given IP.
var freePort = testbin.FreePort

// user is a pi2pictl-like control connection.
type user = controltest.User

var attach = controltest.Attach

func contextWithTimeout(d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), d)
}
