package transport

import (
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"net"
	"sync/atomic"
	"testing"
	"time"
)

// countingConn counts the writes that reach TCP.
type countingConn struct {
	net.Conn
	writes atomic.Int64
}

func (c *countingConn) Write(p []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(p)
}

// TestBatchedWrites sends random writes of 1 byte to 300 KiB over a secure
// connection while the other side sends too: every byte arrives, in order,
// both ways; and a large write reaches TCP in a few writes, not one per
// TLS record.
func TestBatchedWrites(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	srvID, cliID := newIdentity(t), newIdentity(t)
	l, err := Listen(secure(srvID), "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fromClient, fromServer := randomBytes(rng, 8<<20), randomBytes(rng, 2<<20)
	got := make(chan []byte, 1)
	acceptEach(t, l, func(raw net.Conn) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c, err := l.Config.Server(ctx, raw, PinKey(cliID.Public))
		if err != nil {
			got <- nil
			return
		}
		defer c.Close()
		go func() {
			_, _ = c.Write(fromServer)
			_ = c.CloseWrite()
		}()
		b, _ := io.ReadAll(c)
		got <- b
	})
	raw, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	counted := &countingConn{Conn: raw}
	c, err := secure(cliID).Client(testCtx(t), counted, PinKey(srvID.Public))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	back := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(c)
		back <- b
	}()
	before := counted.writes.Load()
	if _, err := c.Write(fromClient[:256<<10]); err != nil {
		t.Fatal(err)
	}
	if n := counted.writes.Load() - before; n > 5 {
		t.Errorf("a write of 256 KiB reached TCP in %d writes, want at most 5", n)
	}
	for rest := fromClient[256<<10:]; len(rest) > 0; {
		k := min(1+rng.IntN(300<<10), len(rest))
		if _, err := c.Write(rest[:k]); err != nil {
			t.Fatal(err)
		}
		rest = rest[k:]
	}
	if err := c.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	if b := <-got; !bytes.Equal(b, fromClient) {
		t.Fatalf("the server got %d bytes, not the %d sent in order", len(b), len(fromClient))
	}
	if b := <-back; !bytes.Equal(b, fromServer) {
		t.Fatalf("the client got %d bytes, not the %d sent in order", len(b), len(fromServer))
	}
}

func randomBytes(rng *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

// A secure connection's end reads as io.EOF only after the peer's
// close_notify; a bare TCP end between two records (a peer that dropped
// the connection: a FIN without close_notify) reads as
// io.ErrUnexpectedEOF, with everything sent before it, in both read
// paths (with and without OnReadWait's hook). Go's TLS alone returns
// io.EOF for both, and a chat cut short passed for an ordinary end.
func TestBareEndIsNotAnOrdinaryEnd(t *testing.T) {
	for _, tc := range []struct {
		name       string
		closeWrite bool
		hook       bool
		want       error
	}{
		{"close_notify", true, false, io.EOF},
		{"close_notify/hook", true, true, io.EOF},
		{"bare-fin", false, false, io.ErrUnexpectedEOF},
		{"bare-fin/hook", false, true, io.ErrUnexpectedEOF},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srvID, cliID := newIdentity(t), newIdentity(t)
			l, err := Listen(secure(srvID), "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			text := bytes.Repeat([]byte("last words\n"), 3000)
			acceptEach(t, l, func(raw net.Conn) {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				c, err := l.Config.Server(ctx, raw, PinKey(cliID.Public))
				if err != nil {
					return
				}
				_, _ = c.Write(text)
				if tc.closeWrite {
					_ = c.CloseWrite()
				} else {
					_ = c.Raw().(*net.TCPConn).CloseWrite() // FIN, no close_notify
				}
				_, _ = io.Copy(io.Discard, c)
				c.Close()
			})
			raw, err := net.Dial("tcp", l.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			c, err := secure(cliID).Client(testCtx(t), raw, PinKey(srvID.Public))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.StrictEnd()
			if tc.hook {
				c.OnReadWait(func() error { return nil })
			}
			var got []byte
			buf := make([]byte, 4096)
			for {
				n, err := c.Read(buf)
				got = append(got, buf[:n]...)
				if err != nil {
					if err != tc.want {
						t.Fatalf("the end read as %v, want %v", err, tc.want)
					}
					break
				}
			}
			if !bytes.Equal(got, text) {
				t.Fatalf("read %d bytes before the end, not the %d sent", len(got), len(text))
			}
		})
	}
}
