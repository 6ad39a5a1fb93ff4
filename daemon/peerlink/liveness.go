package peerlink

import (
	"errors"
	"net"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// How a peer that vanished (power cut, Wi-Fi drop, cable pulled) is
// noticed. The chat phase has no protocol of its own (course-style peers
// send bare text), so this is TCP's business:
//
//   - idle, TCP keepalive probes go out after KeepIdle without traffic,
//     every KeepInterval;
//   - typing, TCP_USER_TIMEOUT drops the connection when data we sent
//     stays unacknowledged for UserTimeout; with keepalive on it also
//     bounds the unanswered probes.
//
// Either way the connection fails with ETIMEDOUT at most about
// KeepIdle + UserTimeout (25 s) after the peer last answered. A peer that
// is alive but does not read (a suspended pi2pictl) still acknowledges
// TCP's window probes, so it is not mistaken for a vanished one.
const (
	KeepIdle     = 5 * time.Second
	KeepInterval = 5 * time.Second
	KeepCount    = 4
	UserTimeout  = 20 * time.Second
)

// Tune sets the keepalive timing and the user timeout on a peer
// connection (the raw TCP connection under TLS).
func Tune(raw net.Conn) error {
	tc, ok := raw.(*net.TCPConn)
	if !ok {
		return nil // not TCP (tests over net.Pipe)
	}
	if err := tc.SetKeepAliveConfig(net.KeepAliveConfig{Enable: true,
		Idle: KeepIdle, Interval: KeepInterval, Count: KeepCount}); err != nil {
		return err
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_USER_TIMEOUT, int(UserTimeout/time.Millisecond))
	}); err != nil {
		return err
	}
	return serr
}

// StoppedAnswering reports whether err means the peer stopped answering
// (keepalive or user timeout, or its host became unreachable while we
// retried), as opposed to closing or resetting.
func StoppedAnswering(err error) bool {
	var ne net.Error
	return errors.Is(err, syscall.ETIMEDOUT) || errors.Is(err, syscall.EHOSTUNREACH) ||
		errors.Is(err, syscall.ENETUNREACH) || errors.As(err, &ne) && ne.Timeout()
}
