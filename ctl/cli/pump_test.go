package cli

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pi2pi/pi2pi/daemon/backend/backendtest"
	"github.com/pi2pi/pi2pi/internal/control"
	"github.com/pi2pi/pi2pi/internal/control/controltest"
	"golang.org/x/sys/unix"
)

// With a pipe on stdin (an *os.File), everything pi2pictl chat has read
// is sent, in order, before the end: at the end of stdin and on CTRL-C
// after the last byte was read.
func TestPumpSendsAllItReadBeforeEnd(t *testing.T) {
	for _, ending := range []string{"eof", "interrupt"} {
		t.Run(ending, func(t *testing.T) {
			ali, bianca := aliAndBianca(t, backendtest.Options{})
			b := waiting(t, bianca)
			pr, pw, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			defer pw.Close()
			r := startFile(t, ali, pr, "chat", "bianca")
			var want strings.Builder
			for i := range 3000 {
				fmt.Fprintf(&want, "line %d: %s\n", i, strings.Repeat("é", i%50))
			}
			want.WriteString("no newline at the end")
			r.waitFor(t, "Connection established, type your messages\n")
			if _, err := pw.Write([]byte(want.String())); err != nil {
				t.Fatal(err)
			}
			if ending == "eof" {
				pw.Close()
			} else {
				for {
					n, err := unix.IoctlGetInt(int(pw.Fd()), unix.TIOCINQ)
					if err != nil {
						t.Fatal(err)
					}
					if n == 0 {
						break
					}
					time.Sleep(time.Millisecond)
				}
				r.interrupts <- os.Interrupt
			}
			if code := r.wait(t); code != 0 {
				t.Fatalf("exit %d: %s", code, r.stderr.String())
			}
			// Bianca was shown it all, the last line completed at the end.
			b.ended(t)
			head := "Connection received from user ali, type your messages\n"
			got := strings.TrimSuffix(strings.TrimPrefix(b.stdout.String(), head), "\nConnection ended\n")
			if got != want.String() {
				t.Fatalf("bianca was shown %d bytes of the %d sent before the end", len(got), want.Len())
			}
			if n := strings.Count(r.stdout.String(), "Connection ended"); n != 1 {
				t.Fatalf("%d times Connection ended:\n%s", n, r.stdout.String())
			}
		})
	}
}

// startFile is start with stdin a file (a pipe's read end).
func startFile(t *testing.T, d *backendtest.Terminal, stdin *os.File, args ...string) *run {
	t.Helper()
	r := startWith(t, d.Socket, stdin, nil, args...)
	t.Cleanup(func() { stdin.Close() })
	return r
}

// When pi2pid asks the pump to end (the peer has ended) before it has read
// anything, what stdin already holds still goes out, then the end; CTRL-C
// (stop) sends nothing more.
func TestPumpSendsWhatStdinHoldsWhenAskedToEnd(t *testing.T) {
	for _, asked := range []bool{true, false} {
		t.Run(fmt.Sprint("asked=", asked), func(t *testing.T) {
			s, theirs := controltest.StreamPair(t)
			pr, pw, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			defer pr.Close()
			const text = "I am fine, how about you?\nsecond line\n"
			if _, err := pw.Write([]byte(text)); err != nil {
				t.Fatal(err)
			}
			pw.Close()
			p := newPump(s, pr, nil)
			if asked {
				p.stopAfterReady()
			} else {
				p.stop()
			}
			p.run()
			got, err := io.ReadAll(theirs)
			if err != nil {
				t.Fatal(err)
			}
			want := ""
			if asked {
				want = text
			}
			if string(got) != want {
				t.Fatalf("pi2pid got %q, want %q", got, want)
			}
		})
	}
}

// When the peer ends first and stdin holds more than the pump sends at
// the end, the rest is not sent, and the pump says so (pi2pictl tells
// the person on stderr): a file larger than the end's share.
func TestPumpTellsWhatItLeftUnsent(t *testing.T) {
	for _, size := range []int{1000, control.StreamBuffer + 1000} {
		t.Run(fmt.Sprint("size=", size), func(t *testing.T) {
			s, theirs := controltest.StreamPair(t)
			f, err := os.CreateTemp(t.TempDir(), "input")
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if _, err := f.Write(bytes.Repeat([]byte("x"), size)); err != nil {
				t.Fatal(err)
			}
			if _, err := f.Seek(0, io.SeekStart); err != nil {
				t.Fatal(err)
			}
			p := newPump(s, f, nil)
			p.stopAfterReady()
			done := make(chan struct{})
			go func() { p.run(); close(done) }()
			got, err := io.ReadAll(theirs)
			if err != nil {
				t.Fatal(err)
			}
			<-done
			left := len(got) < size
			if p.unsent.Load() != left {
				t.Fatalf("sent %d of %d bytes; unsent = %v", len(got), size, p.unsent.Load())
			}
		})
	}
}

// A pipe whose writer is still at work (`cat big | pi2pictl chat`) has
// not ended even when it is empty for a moment: the rest of the input is
// not sent, and the pump says so. A pipe whose writer closed after what
// the pump sent has ended: nothing is left.
func TestPumpTellsWhatItLeftUnsentFromAPipe(t *testing.T) {
	for _, writerOpen := range []bool{true, false} {
		t.Run(fmt.Sprint("writer-open=", writerOpen), func(t *testing.T) {
			s, theirs := controltest.StreamPair(t)
			pr, pw, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			defer pr.Close()
			defer pw.Close()
			if _, err := pw.Write([]byte("some text\n")); err != nil {
				t.Fatal(err)
			}
			if !writerOpen {
				pw.Close()
			}
			p := newPump(s, pr, nil)
			p.stopAfterReady()
			done := make(chan struct{})
			go func() { p.run(); close(done) }()
			if _, err := io.ReadAll(theirs); err != nil {
				t.Fatal(err)
			}
			<-done
			if p.unsent.Load() != writerOpen {
				t.Fatalf("writer open %v: unsent = %v", writerOpen, p.unsent.Load())
			}
		})
	}
}

// A stdin the kernel cannot move from (a file of /proc) is read instead:
// its text reaches the peer.
func TestPumpReadsWhatItCannotMove(t *testing.T) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	ali, bianca := aliAndBianca(t, backendtest.Options{})
	b := waiting(t, bianca)
	r := startFile(t, ali, f, "chat", "bianca")
	if code := r.wait(t); code != 0 {
		t.Fatalf("exit %d: %s", code, r.stderr.String())
	}
	b.ended(t)
	got := b.stdout.String()
	if !strings.Contains(got, "\nName:\t") || !strings.Contains(got, "\nPid:\t") {
		t.Fatalf("bianca was not shown /proc/self/status:\n%s", got)
	}
}

// The chat ends (pi2pid closes the stream) while stdin still has more,
// whether the pump waits for room in the stream or for stdin: the rest
// was not sent, and the pump says so.
func TestPumpTellsWhatItLeftUnsentWhenTheStreamCloses(t *testing.T) {
	s, theirs := controltest.StreamPair(t)
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	go func() { // a writer that keeps writing (`yes |`)
		defer pw.Close()
		chunk := bytes.Repeat([]byte("y\n"), 32<<10)
		for {
			if _, err := pw.Write(chunk); err != nil {
				return
			}
		}
	}()
	p := newPump(s, pr, nil)
	go p.run()
	if _, err := io.ReadFull(theirs, make([]byte, 1<<20)); err != nil {
		t.Fatal(err)
	}
	theirs.Close() // pi2pid ends the chat: the stream is gone
	p.stop()
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		t.Fatal("the pump did not end")
	}
	if !p.unsent.Load() {
		t.Fatal("stdin had more, but the pump did not say the rest was not sent")
	}
}

// Reading stdin fails (a directory, a descriptor open only for writing):
// pi2pictl says so on stderr and exits 1; the chat ends as at stdin's
// end, on both sides.
func TestPumpReadError(t *testing.T) {
	for _, kind := range []string{"directory", "write-only"} {
		t.Run(kind, func(t *testing.T) {
			var f *os.File
			var err error
			if kind == "directory" {
				f, err = os.Open(t.TempDir())
			} else {
				f, err = os.OpenFile(filepath.Join(t.TempDir(), "out"), os.O_CREATE|os.O_WRONLY, 0o600)
			}
			if err != nil {
				t.Fatal(err)
			}
			ali, bianca := aliAndBianca(t, backendtest.Options{})
			b := waiting(t, bianca)
			r := startFile(t, ali, f, "chat", "bianca")
			if code := r.wait(t); code != 1 {
				t.Fatalf("exit %d, want 1; stderr: %s", code, r.stderr.String())
			}
			if !strings.Contains(r.stderr.String(), "pi2pictl: cannot read your input (read ") {
				t.Fatalf("stderr does not say stdin failed: %q", r.stderr.String())
			}
			if n := strings.Count(r.stdout.String(), "Connection ended"); n != 1 {
				t.Fatalf("%d times Connection ended:\n%s", n, r.stdout.String())
			}
			b.ended(t)
		})
	}
}
