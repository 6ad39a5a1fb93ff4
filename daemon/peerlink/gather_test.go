package peerlink

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pi2pi/pi2pi/internal/transport"
	"github.com/pi2pi/pi2pi/internal/wire"
)

// securePair returns the two ends of a real TLS connection over loopback
// TCP, each as the chat phase sees it (reading through a decoder's buffer).
func securePair(t *testing.T) (caller, callee *Chat) {
	t.Helper()
	ids := make([]*transport.Identity, 2)
	for i := range ids {
		id, err := transport.GenerateIdentity()
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = id
	}
	srv := &transport.Config{Mode: transport.Secure, Identity: ids[0]}
	l, err := transport.Listen(srv, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	accepted := make(chan *transport.Conn, 1)
	go func() {
		raw, err := l.Accept()
		if err != nil {
			accepted <- nil
			return
		}
		c, err := srv.Server(ctx, raw, transport.PinKey(ids[1].Public))
		if err != nil {
			t.Error(err)
		}
		accepted <- c
	}()
	cli := &transport.Config{Mode: transport.Secure, Identity: ids[1]}
	a, err := cli.Dial(ctx, l.Addr().String(), transport.PinKey(ids[0].Public))
	if err != nil {
		t.Fatal(err)
	}
	b := <-accepted
	if b == nil {
		t.Fatal("no secure connection accepted")
	}
	t.Cleanup(func() { a.Close(); b.Close() })
	return newChat(a, bufio.NewReaderSize(a, wire.MaxMessage)), newChat(b, bufio.NewReaderSize(b, wire.MaxMessage))
}

// TestSecureReceiveGathers checks Receive over TLS: a line sent alone is
// delivered while the connection stays open (nothing waits in the gathering
// buffer while Receive waits for the peer), and a flood of random writes
// arrives whole and in order, in pieces larger than one TLS record when the
// receiver falls behind.
func TestSecureReceiveGathers(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 7))
	caller, callee := securePair(t)

	got := make(chan []byte, 64)
	var slow atomic.Bool
	done := make(chan error, 1)
	go func() {
		done <- callee.Receive(func(p []byte) error {
			got <- bytes.Clone(p)
			if slow.Load() {
				time.Sleep(2 * time.Millisecond) // falls behind: records queue up
			}
			return nil
		})
	}()
	for i := range 5 {
		line := []byte("line " + string(rune('a'+i)) + "\n")
		if err := caller.Send(line); err != nil {
			t.Fatal(err)
		}
		select {
		case p := <-got:
			if !bytes.Equal(p, line) {
				t.Fatalf("line %d: got %q, want %q", i, p, line)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("line %d not delivered while the connection stays open", i)
		}
		time.Sleep(time.Duration(rng.IntN(3)) * time.Millisecond)
	}

	slow.Store(true)
	data := make([]byte, 4<<20)
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	go func() {
		for rest := data; len(rest) > 0; {
			n := min(len(rest), 1+rng.IntN(300<<10))
			if err := caller.Send(rest[:n]); err != nil {
				return
			}
			rest = rest[n:]
		}
		caller.End()
	}()
	var recv []byte
	largest := 0
	for len(recv) < len(data) {
		select {
		case p := <-got:
			recv = append(recv, p...)
			largest = max(largest, len(p))
		case <-time.After(30 * time.Second):
			t.Fatalf("stalled after %d of %d bytes", len(recv), len(data))
		}
	}
	if !bytes.Equal(recv, data) {
		t.Fatalf("received %d bytes that differ from the %d sent", len(recv), len(data))
	}
	if err := <-done; err != nil {
		t.Fatalf("Receive: %v", err)
	}
	if largest <= 16<<10 {
		t.Errorf("largest delivery %d bytes: TLS records were not gathered", largest)
	}
}

// TestSecureDeliverErrorStops checks that a delivery that fails while
// Receive is about to wait for the peer (inside TLS's read) ends Receive
// with that error.
func TestSecureDeliverErrorStops(t *testing.T) {
	caller, callee := securePair(t)
	stop := errors.New("owner gone")
	go func() { _ = caller.Send([]byte("x\n")) }()
	if err := callee.Receive(func([]byte) error { return stop }); err != stop {
		t.Fatalf("err = %v", err)
	}
}
