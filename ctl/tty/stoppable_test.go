package tty

import (
	"errors"
	"io"
	"os"
	"testing"
	"time"
)

type readResult struct {
	b   []byte
	err error
}

func readOne(r io.Reader) <-chan readResult {
	done := make(chan readResult, 1)
	go func() {
		b := make([]byte, 1)
		n, err := r.Read(b)
		done <- readResult{b[:n], err}
	}()
	return done
}

func wantRead(t *testing.T, done <-chan readResult) readResult {
	t.Helper()
	select {
	case res := <-done:
		return res
	case <-time.After(10 * time.Second):
		t.Fatal("Read did not return")
		return readResult{}
	}
}

func TestStoppableReaderReadsWhatArrives(t *testing.T) {
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	defer pw.Close()
	r := NewStoppableReader(pr)
	done := readOne(r)
	pw.Write([]byte("7"))
	if res := wantRead(t, done); res.err != nil || string(res.b) != "7" {
		t.Fatalf("read %q, %v; want 7", res.b, res.err)
	}
	pw.Close()
	if res := wantRead(t, readOne(r)); res.err != io.EOF {
		t.Fatalf("after the writer closed: %q, %v; want EOF", res.b, res.err)
	}
}

// A Read waiting for a key returns ErrStopped once stopped, and a key
// pressed afterwards is left for the terminal's next reader.
func TestStoppableReaderStopsAWaitingRead(t *testing.T) {
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	defer pw.Close()
	r := NewStoppableReader(pr)
	done := readOne(r)
	select {
	case res := <-done:
		t.Fatalf("Read returned %q, %v with no input", res.b, res.err)
	case <-time.After(100 * time.Millisecond):
	}
	r.Stop()
	if res := wantRead(t, done); !errors.Is(res.err, ErrStopped) || len(res.b) != 0 {
		t.Fatalf("after Stop: %q, %v; want ErrStopped", res.b, res.err)
	}

	pw.Write([]byte("x"))
	if res := wantRead(t, readOne(r)); !errors.Is(res.err, ErrStopped) {
		t.Fatalf("a Read after Stop: %q, %v; want ErrStopped", res.b, res.err)
	}
	r.Stop() // twice is fine
	b := make([]byte, 1)
	if n, err := pr.Read(b); n != 1 || err != nil || b[0] != 'x' {
		t.Fatalf("the next reader got %q, %v; want the key x", b[:n], err)
	}
}

func TestStoppableReaderOnAClosedFile(t *testing.T) {
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pw.Close()
	r := NewStoppableReader(pr)
	pr.Close()
	if res := wantRead(t, readOne(r)); res.err == nil || errors.Is(res.err, ErrStopped) {
		t.Fatalf("read %q, %v from a closed file; want its error", res.b, res.err)
	}
}
