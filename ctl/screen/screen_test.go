package screen

import (
	"errors"
	"io"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
)

func TestPlainTranscript(t *testing.T) {
	var out, errb strings.Builder
	s := New(&Plain{Stdout: &out, Stderr: &errb})
	s.Prompt("Login: ")
	s.Answered("ali")
	s.Println("Enter passcode on keypad.")
	s.Println("Logged in.")
	s.Prompt("Enter destination user ID: ")
	s.Errorln("note")
	s.Println("Connection received from user bianca, type your messages")
	s.Prompt("")
	s.Close()
	want := "Login: ali\nEnter passcode on keypad.\nLogged in.\nEnter destination user ID: \nConnection received from user bianca, type your messages\n"
	if out.String() != want {
		t.Fatalf("stdout:\n%q\nwant\n%q", out.String(), want)
	}
	if errb.String() != "note\n" {
		t.Fatalf("stderr = %q", errb.String())
	}
}

// recorder checks that Display calls never overlap.
type recorder struct {
	mu    sync.Mutex
	lines []string
	t     *testing.T
}

func (r *recorder) Print(_ bool, text string) {
	if !r.mu.TryLock() {
		r.t.Error("concurrent Print")
		return
	}
	defer r.mu.Unlock()
	r.lines = append(r.lines, text)
}
func (r *recorder) Prompt(string)   {}
func (r *recorder) Answered(string) {}

func TestOneWriter(t *testing.T) {
	r := &recorder{t: t}
	s := New(r)
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 50; j++ {
				s.Println("x")
				s.Stderr().Write([]byte("y"))
			}
		}()
	}
	wg.Wait()
	s.Flush()
	if len(r.lines) != 800 {
		t.Fatalf("got %d lines, want 800", len(r.lines))
	}
	s.Close()
}

// failAfter takes n bytes, then fails every write.
type failAfter struct {
	n   int
	got strings.Builder
}

var errFull = errors.New("write /dev/stdout: no space left on device")

func (w *failAfter) Write(p []byte) (int, error) {
	if len(p) > w.n {
		w.got.Write(p[:w.n])
		k := w.n
		w.n = 0
		return k, errFull
	}
	w.n -= len(p)
	w.got.Write(p)
	return len(p), nil
}

// A failed write to stdout is surfaced by Err once flushed; nothing is
// written to stdout after it (no hole in what stdout holds); stderr goes
// on; prompts and lines after the failure neither block nor panic.
func TestPlainStdoutFails(t *testing.T) {
	out := &failAfter{n: 10}
	var errb strings.Builder
	s := New(&Plain{Stdout: out, Stderr: &errb})
	s.Println("12345")
	s.Flush()
	if err := s.Err(); err != nil {
		t.Fatalf("Err after a write that went through: %v", err)
	}
	s.Print("abcdefgh") // 6 bytes left: the write fails
	s.Flush()
	if err := s.Err(); !errors.Is(err, errFull) {
		t.Fatalf("Err = %v, want %v", err, errFull)
	}
	out.n = 1 << 20 // stdout would take more now: none is written
	s.Print("more")
	s.Prompt("Enter destination user ID: ")
	s.Answered("bianca")
	s.Println("Connection ended")
	s.Errorln("pi2pictl: told")
	s.Close()
	if got := out.got.String(); got != "12345\nabcd" {
		t.Fatalf("stdout %q, want %q", got, "12345\nabcd")
	}
	if errb.String() != "pi2pictl: told\n" {
		t.Fatalf("stderr %q", errb.String())
	}
	if err := s.Err(); !errors.Is(err, errFull) {
		t.Fatalf("Err after Close = %v, want the first failure", err)
	}
}

// The same with a real file that cannot be written: /dev/full.
func TestPlainDevFull(t *testing.T) {
	f, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
	if err != nil {
		t.Skipf("no /dev/full to write to: %v", err)
	}
	defer f.Close()
	s := New(&Plain{Stdout: f, Stderr: io.Discard})
	s.Print("text from bianca\n")
	s.Flush()
	if err := s.Err(); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Err = %v, want ENOSPC", err)
	}
	s.Close()
}
