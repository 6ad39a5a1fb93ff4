package transport

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// bindNoPort lets the kernel choose the source port at connect time rather
// than at bind time. Binding a source IP otherwise makes bind() search past
// every TIME_WAIT socket of that address, which slows connections down when
// a terminal talks to the server often.
func bindNoPort(_, _ string, c syscall.RawConn) error {
	return c.Control(func(fd uintptr) {
		// Older kernels lack the option and bind as before.
		_ = unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_BIND_ADDRESS_NO_PORT, 1)
	})
}
