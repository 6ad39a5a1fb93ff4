package controlsock

import (
	"context"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/pi2pi/pi2pi/internal/control"
)

// A trickle of tiny chunks to a client that does not read must block Line
// once MaxLineEvents wait, long before the stuck-client limit (MaxBacklog)
// would drop the client and end its chat.
func TestLineTrickleBlocksBeforeDrop(t *testing.T) {
	a, b := net.Pipe()
	defer b.Close()
	c := newConn(1, a) // no writer: nothing is ever taken
	queued := make(chan int, 1)
	go func() {
		n := 0
		for c.Line(control.Reply{Text: "x"}) == nil {
			n++
			if n == MaxLineEvents {
				queued <- n
			}
		}
	}()
	<-queued
	// The next Line waits; the client must not be dropped.
	for range 20 {
		select {
		case <-c.Done():
			t.Fatal("a client behind on small chunks was dropped")
		default:
		}
		time.Sleep(5 * time.Millisecond)
	}
	c.mu.Lock()
	n := c.lineCount
	c.mu.Unlock()
	if n > MaxLineEvents {
		t.Fatalf("%d line events queued, bound %d", n, MaxLineEvents)
	}
	c.Close()
}

// WatchHangup closes the connection when the client hangs up, even though
// nobody reads the socket (the reader waits in a handler).
func TestWatchHangup(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s")
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	client, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	server, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	c := newConn(1, server)
	// Unread requests wait in the socket, as behind a blocked handler.
	if _, err := client.Write([]byte(`{"id":5,"op":"send","text":"pending"}` + "\n")); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	watched := make(chan struct{})
	go func() { c.WatchHangup(ctx); close(watched) }()
	select {
	case <-c.Done():
		t.Fatal("closed while the client is still there")
	case <-time.After(3 * hangupPoll * time.Millisecond):
	}
	client.Close()
	select {
	case <-c.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the hang-up was not noticed")
	}
	<-watched
}
