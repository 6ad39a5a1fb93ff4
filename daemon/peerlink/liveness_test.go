package peerlink

import (
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestTuneSetsKeepaliveAndUserTimeout(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		if c, err := l.Accept(); err == nil {
			defer c.Close()
			_, _ = io.Copy(io.Discard, c)
		}
	}()
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	live, err := Tune(c)
	if err != nil || live == nil {
		t.Fatal(live, err)
	}
	rc, _ := c.(*net.TCPConn).SyscallConn()
	get := func(level, opt int) int {
		var v int
		var gerr error
		_ = rc.Control(func(fd uintptr) { v, gerr = unix.GetsockoptInt(int(fd), level, opt) })
		if gerr != nil {
			t.Fatal(gerr)
		}
		return v
	}
	checks := []struct {
		name       string
		level, opt int
		want       int
	}{
		{"SO_KEEPALIVE", unix.SOL_SOCKET, unix.SO_KEEPALIVE, 1},
		{"TCP_KEEPIDLE", unix.IPPROTO_TCP, unix.TCP_KEEPIDLE, int(KeepIdle / time.Second)},
		{"TCP_KEEPINTVL", unix.IPPROTO_TCP, unix.TCP_KEEPINTVL, int(KeepInterval / time.Second)},
		{"TCP_KEEPCNT", unix.IPPROTO_TCP, unix.TCP_KEEPCNT, KeepCount},
		// No user timeout: it would end a chat with a slow receiver.
		{"TCP_USER_TIMEOUT", unix.IPPROTO_TCP, unix.TCP_USER_TIMEOUT, 0},
	}
	for _, c := range checks {
		if got := get(c.level, c.opt); got != c.want {
			t.Errorf("%s = %d, want %d", c.name, got, c.want)
		}
	}
	// A vanished peer is noticed within 30 s (docs/protocol.md §6).
	if d := KeepIdle + KeepCount*KeepInterval; d > 30*time.Second || Unanswered > 25*time.Second {
		t.Errorf("keepalive gives up after %s, unanswered data after %s: over 30 s", d, Unanswered)
	}
	// Data acknowledged, nothing out: the peer is not silent.
	if _, err := c.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	for live.Silent() != 0 {
		time.Sleep(time.Millisecond)
	}
	// Not TCP: nothing to set, no error.
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	if live, err := Tune(a); err != nil || live != nil || live.Silent() != 0 {
		t.Fatal(live, err)
	}
}

func TestStoppedAnswering(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{&net.OpError{Op: "read", Err: os.NewSyscallError("read", syscall.ETIMEDOUT)}, true},
		{&net.OpError{Op: "read", Err: os.NewSyscallError("read", syscall.EHOSTUNREACH)}, true},
		{fmt.Errorf("wrapped: %w", os.ErrDeadlineExceeded), true},
		{&net.OpError{Op: "read", Err: os.NewSyscallError("read", syscall.ECONNRESET)}, false},
		{io.EOF, false},
	} {
		if got := StoppedAnswering(tc.err); got != tc.want {
			t.Errorf("StoppedAnswering(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

// TryEnd does not wait for a Send under way; End would.
func TestTryEndDuringSend(t *testing.T) {
	a, b := net.Pipe()
	defer b.Close()
	c := newChat(a, a)
	sending := make(chan error, 1)
	go func() { sending <- c.Send([]byte("nobody reads this")) }()
	for c.wmu.TryLock() { // wait until Send holds the lock
		c.wmu.Unlock()
		time.Sleep(time.Millisecond)
	}
	if c.TryEnd() {
		t.Fatal("TryEnd closed our side under a Send")
	}
	c.Close()
	if err := <-sending; err == nil {
		t.Fatal("the Send went through a closed connection")
	}
	if !newChat(b, b).TryEnd() {
		t.Fatal("TryEnd refused with no Send under way")
	}
}
