package directory

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// bindNoPort sets IP_BIND_ADDRESS_NO_PORT on a benchmark client's socket:
// the kernel picks its port at connect time, by the whole address 4-tuple.
// Without it bind() scans for a free port on the client's IP, and a scan
// slows down with every TIME_WAIT socket on that IP. TIME_WAIT stays with
// whichever side closes first: the client when the server waits for more
// requests (ours), the server when it closes after one reply (the floor),
// so without this the one-request-per-connection rate would measure the
// load generator's bind() (tens of thousands of TIME_WAIT sockets on 16
// loopback addresses) rather than the server. Real clients are spread
// over many hosts.
func bindNoPort(_, _ string, c syscall.RawConn) error {
	var serr error
	err := c.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_BIND_ADDRESS_NO_PORT, 1)
	})
	if err != nil {
		return err
	}
	return serr
}
