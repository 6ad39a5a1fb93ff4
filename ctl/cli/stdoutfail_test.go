package cli

import (
	"io"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/pi2pi/pi2pi/daemon/backend/backendtest"
)

// brokenStdout takes n bytes, then fails every write as a full disk does.
type brokenStdout struct {
	mu  sync.Mutex
	n   int
	got strings.Builder
}

func (w *brokenStdout) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(p) > w.n {
		k := w.n
		w.got.Write(p[:k])
		w.n = 0
		return k, &os.PathError{Op: "write", Path: "/dev/stdout", Err: syscall.ENOSPC}
	}
	w.n -= len(p)
	w.got.Write(p)
	return len(p), nil
}

func (w *brokenStdout) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.got.String()
}

// startWithStdout is start with stdout going to out.
func startWithStdout(t *testing.T, d *backendtest.Terminal, out io.Writer, args ...string) *run {
	t.Helper()
	pr, pw := io.Pipe()
	r := startWith(t, d.Socket, pr, out, args...)
	r.stdinW = pw
	t.Cleanup(func() { pw.Close(); pr.Close() })
	return r
}

// A `pi2pictl wait` whose stdout fails after a while (a disk that fills
// up) says so on stderr, ends the chat and exits with 1; ali, who sends
// far more than the disk took, is not told that all went well.
func TestWaitStdoutFails(t *testing.T) {
	ali, bianca := aliAndBianca(t, backendtest.Options{})
	out := &brokenStdout{n: 64 << 10}
	b := startWithStdout(t, bianca, out, "wait")
	bianca.WaitAttached(t)
	a := start(t, ali, "chat", "bianca")
	a.waitFor(t, "Connection established, type your messages\n")
	line := strings.Repeat("x", 99) + "\n"
	text := strings.Repeat(line, 32<<20/len(line)) // 32 MB: more than every buffer between them
	go func() {
		a.type_(text)
		a.closeStdin()
	}()
	if code := b.wait(t); code != 1 {
		t.Fatalf("bianca's pi2pictl exited %d, want 1; stderr %q", code, b.stderr.String())
	}
	want := "pi2pictl: cannot write what ali sends to the standard output (write /dev/stdout: no space left on device), " +
		"so the chat is ended: free some space or send the output elsewhere.\n"
	if got := b.stderr.String(); got != want {
		t.Fatalf("bianca's stderr:\n%q\nwant\n%q", got, want)
	}
	got := out.String()
	if !strings.HasPrefix(got, "Connection received from user ali, type your messages\n") ||
		!strings.HasPrefix(text, strings.TrimPrefix(got, "Connection received from user ali, type your messages\n")) {
		t.Fatalf("bianca's stdout is not the beginning of the transcript:\n%.300q", got)
	}
	if strings.Contains(got, "Connection ended") {
		t.Fatal("bianca's stdout says the chat ended as usual")
	}
	// pi2pid reset the connection: ali's read or write of it fails.
	if code := a.wait(t); code != 1 || !strings.Contains(a.stderr.String(), "bianca") ||
		!strings.Contains(a.stderr.String(), "what you typed since may not have arrived.") {
		t.Fatalf("ali's pi2pictl exited %d after bianca's dropped the text; stderr %q", code, a.stderr.String())
	}
}

// The same with /dev/full, a real file that cannot be written, in secure
// mode: even pi2pictl's own first line fails, and the first text ends the
// chat. ali, whose stdin stays open, is told that the chat broke.
func TestWaitDevFull(t *testing.T) {
	full, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
	if err != nil {
		t.Skipf("no /dev/full to write to: %v", err)
	}
	defer full.Close()
	ali, bianca := aliAndBianca(t, backendtest.Options{Secure: true})
	b := startWithStdout(t, bianca, full, "wait")
	bianca.WaitAttached(t)
	a := start(t, ali, "chat", "bianca")
	a.waitFor(t, "Connection established, type your messages\n")
	a.type_("Hello, are you there?\n")
	if code := b.wait(t); code != 1 {
		t.Fatalf("bianca's pi2pictl exited %d, want 1; stderr %q", code, b.stderr.String())
	}
	if got := b.stderr.String(); !strings.HasPrefix(got, "pi2pictl: cannot write what ali sends to the standard output (") ||
		!strings.Contains(got, "no space left on device") || strings.Count(got, "\n") != 1 {
		t.Fatalf("bianca's stderr: %q", got)
	}
	if code := a.wait(t); code != 1 || !strings.Contains(a.stderr.String(), "the connection to bianca broke (") {
		t.Fatalf("ali's pi2pictl exited %d; stderr %q", code, a.stderr.String())
	}
}

// A command whose output does not reach stdout does not succeed: it
// says so on stderr and exits 1, without blocking.
func TestStatusStdoutFails(t *testing.T) {
	d := daemon(t, backendtest.Options{})
	r := startWithStdout(t, d, &brokenStdout{n: 10}, "status")
	r.closeStdin()
	if code := r.wait(t); code != 1 {
		t.Fatalf("exit %d, want 1; stderr %q", code, r.stderr.String())
	}
	want := "pi2pictl: cannot write to the standard output (write /dev/stdout: no space left on device): " +
		"free some space or send the output elsewhere.\n"
	if got := r.stderr.String(); got != want {
		t.Fatalf("stderr:\n%q\nwant\n%q", got, want)
	}
}

// One line, then the sender's end: pi2pid writes the line, the stream's
// end and chat-ending (peer_ended) to bianca's pi2pictl, which shows the
// rest before it ends its side, so the failed write still drops the chat
// and ali is told, rather than the chat ending as usual.
func TestWaitDevFullSenderEnded(t *testing.T) {
	full, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
	if err != nil {
		t.Skipf("no /dev/full to write to: %v", err)
	}
	defer full.Close()
	ali, bianca := aliAndBianca(t, backendtest.Options{})
	b := startWithStdout(t, bianca, full, "wait")
	bianca.WaitAttached(t)
	a := start(t, ali, "chat", "bianca")
	a.waitFor(t, "Connection established, type your messages\n")
	a.type_("Hello, are you there?\n")
	a.closeStdin()
	if code := b.wait(t); code != 1 || !strings.HasPrefix(b.stderr.String(), "pi2pictl: cannot write what ali sends") {
		t.Fatalf("bianca's pi2pictl exited %d; stderr %q", code, b.stderr.String())
	}
	if code := a.wait(t); code != 1 || !strings.Contains(a.stderr.String(), "the connection to bianca broke (") {
		t.Fatalf("ali's pi2pictl exited %d; stderr %q", code, a.stderr.String())
	}
}
