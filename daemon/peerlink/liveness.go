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
//     every KeepInterval; after KeepCount unanswered ones the connection
//     fails with ETIMEDOUT (at most KeepIdle + KeepCount×KeepInterval,
//     25 s, after the peer last answered);
//   - typing, keepalive is silent (it only probes an idle connection) and
//     TCP would retransmit for many minutes: Liveness.Silent tells how long
//     the peer has acknowledged nothing while we wait for it to (data in
//     flight, window or keepalive probes out), and the chat drops the
//     connection after Unanswered.
//
// TCP_USER_TIMEOUT is not used: since Linux 5.11 it also ends a connection
// whose peer is alive but has closed its window for that long, which is a
// receiver that is slow, not gone (backpressure must not end a chat).
const (
	KeepIdle     = 5 * time.Second
	KeepInterval = 5 * time.Second
	KeepCount    = 4
	Unanswered   = 20 * time.Second
)

// Liveness reads TCP's view of a peer connection.
type Liveness struct{ rc syscall.RawConn }

// Tune sets the keepalive timing on a peer connection (the raw TCP
// connection under TLS) and returns its Liveness; nil when raw is no TCP
// connection (tests over net.Pipe).
func Tune(raw net.Conn) (*Liveness, error) {
	tc, ok := raw.(*net.TCPConn)
	if !ok {
		return nil, nil
	}
	if err := tc.SetKeepAliveConfig(net.KeepAliveConfig{Enable: true,
		Idle: KeepIdle, Interval: KeepInterval, Count: KeepCount}); err != nil {
		return nil, err
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return nil, err
	}
	return &Liveness{rc: rc}, nil
}

// Silent returns how long the peer has acknowledged nothing while we
// wait for an acknowledgement (data in flight, or probes out); 0 when we
// wait for none, or when l is nil or the connection closed. A peer that is
// alive but does not read acknowledges the window probes, so its Silent
// stays short.
func (l *Liveness) Silent() time.Duration {
	if l == nil {
		return 0
	}
	var info *unix.TCPInfo
	var ierr error
	if err := l.rc.Control(func(fd uintptr) {
		info, ierr = unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO)
	}); err != nil || ierr != nil {
		return 0
	}
	if info.Unacked == 0 && info.Probes == 0 {
		return 0
	}
	return time.Duration(info.Last_ack_recv) * time.Millisecond
}

// queued reports whether the socket holds bytes the peer has not
// acknowledged, sent or not (SIOCOUTQ), or bytes from the peer that we
// have not read (SIOCINQ); false when l is nil or the socket is closed.
func (l *Liveness) queued() bool {
	if l == nil {
		return false
	}
	q := false
	_ = l.rc.Control(func(fd uintptr) {
		out, oerr := unix.IoctlGetInt(int(fd), unix.SIOCOUTQ)
		in, ierr := unix.IoctlGetInt(int(fd), unix.SIOCINQ)
		q = oerr == nil && out > 0 || ierr == nil && in > 0
	})
	return q
}

// StoppedAnswering reports whether err means the peer stopped answering
// (keepalive timeout, or its host became unreachable while we retried), as
// opposed to closing or resetting.
func StoppedAnswering(err error) bool {
	var ne net.Error
	return errors.Is(err, syscall.ETIMEDOUT) || errors.Is(err, syscall.EHOSTUNREACH) ||
		errors.Is(err, syscall.ENETUNREACH) || errors.As(err, &ne) && ne.Timeout()
}

// hungUp reports whether the peer of a plain TCP connection has closed
// its side with nothing left unread: one non-blocking peek, no wait.
// For other connections (TLS) it reports false.
func hungUp(c net.Conn) bool {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	gone := false
	var b [1]byte
	_ = rc.Read(func(fd uintptr) bool {
		n, _, err := unix.Recvfrom(int(fd), b[:], unix.MSG_PEEK|unix.MSG_DONTWAIT)
		gone = n == 0 && err == nil
		return true // never wait
	})
	return gone
}
