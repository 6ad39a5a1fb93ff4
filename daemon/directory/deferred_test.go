//go:build linux

package directory

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/pi2pi/pi2pi/internal/wire"
	"golang.org/x/sys/unix"
)

// peekClosed reports whether the peer of c has closed its side: a FIN
// waits to be read (on loopback it arrives within the peer's close).
func peekClosed(t *testing.T, c net.Conn) bool {
	t.Helper()
	rc, err := c.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var n int
	var perr error
	buf := make([]byte, 1)
	if err := rc.Control(func(fd uintptr) {
		n, _, perr = unix.Recvfrom(int(fd), buf, unix.MSG_PEEK|unix.MSG_DONTWAIT)
	}); err != nil {
		t.Fatal(err)
	}
	return perr == nil && n == 0
}

// Under WithDeferredClose a plain lookup leaves its connection open, its
// answer read, until the caller's close; a context that ends meanwhile
// does not shut it down; without it the connection is closed by itself.
func TestDeferredClose(t *testing.T) {
	conns := make(chan net.Conn, 2)
	addr := rawServer(t, func(c net.Conn) {
		if _, err := wire.NewDecoder(c).Decode(); err != nil {
			return
		}
		_ = wire.Write(c, wire.Message{Type: wire.LookupReply, Status: wire.Success, Address: "127.0.0.9"})
		conns <- c
		<-t.Context().Done()
	})
	c := plainClient(addr)

	ctx, cancel := context.WithCancel(context.Background())
	lctx, closeAll := WithDeferredClose(ctx)
	if _, err := c.Lookup(lctx, "ali", "bianca"); err != nil {
		t.Fatal(err)
	}
	srv := <-conns
	cancel()
	if peekClosed(t, srv) {
		t.Fatal("the lookup's connection closed before the caller's close")
	}
	closeAll()
	if !peekClosed(t, srv) {
		t.Fatal("the lookup's connection is still open after the caller's close")
	}

	if _, err := c.Lookup(context.Background(), "ali", "bianca"); err != nil {
		t.Fatal(err)
	}
	srv = <-conns
	deadline := time.Now().Add(20 * time.Second)
	for !peekClosed(t, srv) {
		if time.Now().After(deadline) {
			t.Fatal("a lookup without WithDeferredClose left its connection open")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
