package backend

import (
	"bytes"
	"context"
	"math/rand/v2"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/pi2pi/pi2pi/internal/control"
	"github.com/pi2pi/pi2pi/internal/transport"
)

// The data stream's token admits the chat's owner once: a wrong token, a
// client of another uid and a second use are refused, and so is the token
// of a chat that is over.
func TestStreamToken(t *testing.T) {
	_, _, biancaT, ali, bianca := pair(t, transport.Plain)
	bianca.ManualStream = true
	ali.Must(control.Request{Op: control.OpChat, UserID: "bianca"})
	start := bianca.Next(control.EventChatStart)
	if len(start.Token) < 20 {
		t.Fatalf("token %q: too short to be unguessable", start.Token)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := control.DialStream(ctx, bianca.Socket, start.Token+"x"); control.CodeOf(err) != control.CodeNoChat {
		t.Fatalf("wrong token: %v", err)
	}
	if _, err := control.DialStream(ctx, bianca.Socket, ""); control.CodeOf(err) != control.CodeNoChat {
		t.Fatalf("empty token: %v", err)
	}
	// Another uid with the right token (SO_PEERCRED gives the server
	// the uid; here it is handed over directly).
	if _, err := biancaT.Stream(start.Token, os.Getuid()+4242); control.CodeOf(err) != control.CodeNoChat {
		t.Fatalf("foreign uid: %v", err)
	}
	s := bianca.OpenStream() // the owner still can
	if _, err := control.DialStream(ctx, bianca.Socket, start.Token); control.CodeOf(err) != control.CodeNoChat {
		t.Fatalf("second use: %v", err)
	}
	ali.Send("hello\n")
	if got := bianca.ReadText("hello\n"); got != "hello\n" {
		t.Fatalf("read %q", got)
	}
	ali.End()
	s.CloseWrite()
	bianca.Next(control.EventChatEnd)
	if _, err := biancaT.Stream(start.Token, os.Getuid()); control.CodeOf(err) != control.CodeNoChat {
		t.Fatalf("token of a chat that is over: %v", err)
	}
}

// A stream attached late loses nothing: pi2pid reads nothing from the
// peer until then, and TCP holds the text.
func TestStreamAttachedLate(t *testing.T) {
	_, _, _, ali, bianca := pair(t, transport.Secure)
	bianca.ManualStream = true
	ali.Must(control.Request{Op: control.OpChat, UserID: "bianca"})
	bianca.Next(control.EventChatStart)
	want := bytes.Repeat([]byte("sent before bianca's stream was there\n"), 10000)
	ali.Send(string(want))
	ali.End()
	time.Sleep(300 * time.Millisecond) // late, but within the handshake timeout
	bianca.OpenStream()
	if got := bianca.ReadAll(); got != string(want) {
		t.Fatalf("read %d bytes of %d", len(got), len(want))
	}
	bianca.End()
	bianca.Next(control.EventChatEnd)
}

// An owner that never opens its stream ends the chat after the handshake
// timeout, with a reason, on both sides.
func TestStreamNeverAttached(t *testing.T) {
	_, _, _, ali, bianca := pair(t, transport.Plain)
	bianca.ManualStream = true
	ali.Must(control.Request{Op: control.OpChat, UserID: "bianca"})
	if ev := bianca.Next(control.EventChatEnd); ev.Code != control.CodeNoStream {
		t.Fatalf("bianca's chat-end: %+v", ev)
	}
	ali.ReadAll() // the peer's end
	ali.Next(control.EventChatEnd)
}

// A hostile owner that opens its stream and never reads holds the peer
// back: what the peer can write is bounded by the socket buffers and
// pi2pid's two copy buffers, and pi2pid's memory does not grow.
func TestStreamOwnerNeverReads(t *testing.T) {
	_, _, _, ali, bianca := pair(t, transport.Plain)
	ali.Must(control.Request{Op: control.OpChat, UserID: "bianca"})
	bianca.Stream() // opened, never read
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	const flood = 64 << 20
	chunk := make([]byte, 1<<20)
	s := ali.Stream()
	written := 0
	for written < flood {
		_ = s.SetWriteDeadline(time.Now().Add(2 * time.Second))
		n, err := s.Write(chunk)
		written += n
		if err != nil {
			break // held back
		}
	}
	var after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&after)
	t.Logf("accepted %d bytes before the writes stalled; heap %d → %d", written, before.HeapAlloc, after.HeapAlloc)
	if written >= flood {
		t.Fatalf("all %d bytes were accepted for an owner that reads nothing: no backpressure", flood)
	}
	if grew := int64(after.HeapAlloc) - int64(before.HeapAlloc); grew > 8<<20 {
		t.Fatalf("the heap grew by %d bytes", grew)
	}
}

// Random bytes (every value, invalid UTF-8 too) in random chunks, read in
// random sizes, arrive exactly, both ways, in both modes.
func TestStreamRandomChunks(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	for _, mode := range []transport.Mode{transport.Plain, transport.Secure} {
		t.Run(string(mode), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 1))
			_, _, _, ali, bianca := pair(t, mode)
			ali.Must(control.Request{Op: control.OpChat, UserID: "bianca"})
			aliS, biancaS := ali.Stream(), bianca.Stream()
			roundTrip(t, rng, aliS, biancaS)
			roundTrip(t, rng, biancaS, aliS)
			ali.End()
			bianca.End()
			ali.Next(control.EventChatEnd)
			bianca.Next(control.EventChatEnd)
		})
	}
}

func roundTrip(t *testing.T, rng *rand.Rand, from, to *control.Stream) {
	t.Helper()
	data := make([]byte, 1<<20+rng.IntN(1<<20))
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	sizes := make([]int, 0, 64)
	for n := 0; n < len(data); {
		k := min(1+rng.IntN(200<<10), len(data)-n)
		if rng.IntN(4) == 0 {
			k = min(1+rng.IntN(16), len(data)-n)
		}
		sizes = append(sizes, k)
		n += k
	}
	errc := make(chan error, 1)
	go func() {
		n := 0
		for _, k := range sizes {
			if _, err := from.Write(data[n : n+k]); err != nil {
				errc <- err
				return
			}
			n += k
		}
		errc <- nil
	}()
	got := make([]byte, 0, len(data))
	buf := make([]byte, 300<<10)
	for len(got) < len(data) {
		n, err := to.Read(buf[:1+rng.IntN(len(buf))])
		got = append(got, buf[:n]...)
		if err != nil {
			t.Fatalf("read after %d bytes: %v", len(got), err)
		}
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		i := 0
		for got[i] == data[i] {
			i++
		}
		t.Fatalf("%d bytes arrived; they differ from byte %d", len(got), i)
	}
}
