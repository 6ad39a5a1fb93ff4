package control_test

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pi2pi/pi2pi/internal/control"
	"github.com/pi2pi/pi2pi/internal/control/controltest"
)

// TestMoveFrom moves random data from a pipe and from a file into a stream
// whose other end reads slowly, so that the stream fills and MoveFrom
// waits: everything arrives, in order, once; an empty pipe that is open
// says control.ErrInputEmpty, a closed one and a file's end say 0 and no error.
func TestMoveFrom(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 3))
	data := make([]byte, 3<<20+rng.IntN(1<<20))
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	for _, kind := range []string{"pipe", "file"} {
		t.Run(kind, func(t *testing.T) {
			s, theirs := controltest.StreamPair(t)
			got := make(chan []byte, 1)
			go func() {
				rng := rand.New(rand.NewPCG(seed, 4)) // one per goroutine
				var b bytes.Buffer
				buf := make([]byte, 1+rng.IntN(64<<10))
				for {
					n, err := theirs.Read(buf)
					b.Write(buf[:n])
					if err != nil {
						got <- b.Bytes()
						return
					}
					if rng.IntN(8) == 0 {
						time.Sleep(time.Millisecond) // a slow reader: the stream fills
					}
				}
			}()
			var in *os.File
			if kind == "pipe" {
				pr, pw, err := os.Pipe()
				if err != nil {
					t.Fatal(err)
				}
				defer pr.Close()
				if n, err := s.MoveFrom(int(pr.Fd()), true, control.StreamBuffer); n != 0 || !errors.Is(err, control.ErrInputEmpty) {
					t.Fatalf("empty open pipe: %d, %v", n, err)
				}
				go func() {
					rng := rand.New(rand.NewPCG(seed, 5))
					for rest := data; len(rest) > 0; {
						k := min(1+rng.IntN(200<<10), len(rest))
						_, _ = pw.Write(rest[:k])
						rest = rest[k:]
					}
					pw.Close()
				}()
				in = pr
			} else {
				path := filepath.Join(t.TempDir(), "input")
				if err := os.WriteFile(path, data, 0o600); err != nil {
					t.Fatal(err)
				}
				f, err := os.Open(path)
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				in = f
			}
			moved := 0
			for {
				n, err := s.MoveFrom(int(in.Fd()), kind == "pipe", 1+rng.IntN(control.StreamBuffer))
				if errors.Is(err, control.ErrInputEmpty) {
					time.Sleep(100 * time.Microsecond)
					continue
				}
				if err != nil {
					t.Fatalf("after %d bytes: %v", moved, err)
				}
				if n == 0 {
					break
				}
				moved += n
			}
			if moved != len(data) {
				t.Fatalf("moved %d bytes of %d", moved, len(data))
			}
			if err := s.CloseWrite(); err != nil {
				t.Fatal(err)
			}
			if b := <-got; !bytes.Equal(b, data) {
				t.Fatalf("the other end got %d bytes, not the %d sent in order", len(b), len(data))
			}
		})
	}
}

// TestMoveFromClosedStream: a move into a stream whose other end is gone
// fails; it neither hangs nor reports bytes moved.
func TestMoveFromClosedStream(t *testing.T) {
	s, theirs := controltest.StreamPair(t)
	theirs.Close()
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	defer pw.Close()
	go func() { _, _ = pw.Write(make([]byte, 1<<20)) }()
	for {
		n, err := s.MoveFrom(int(pr.Fd()), true, control.StreamBuffer)
		if errors.Is(err, control.ErrInputEmpty) || err == nil && n > 0 {
			continue // the first bytes may still fit in the socket's buffer
		}
		if err == nil || errors.Is(err, io.EOF) {
			t.Fatalf("moving into a closed stream: %d, %v", n, err)
		}
		return
	}
}

// TestMoveFromProc: the kernel cannot move from most files of /proc;
// MoveFrom says so (control.ErrCannotMove, nothing moved) rather than failing the
// stream, so that pi2pictl reads such a stdin instead.
func TestMoveFromProc(t *testing.T) {
	s, _ := controltest.StreamPair(t)
	f, err := os.Open("/proc/self/status")
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	defer f.Close()
	n, err := s.MoveFrom(int(f.Fd()), false, control.StreamBuffer)
	if n != 0 || !errors.Is(err, control.ErrCannotMove) {
		t.Fatalf("moving from /proc/self/status: %d, %v; want 0, control.ErrCannotMove", n, err)
	}
}
