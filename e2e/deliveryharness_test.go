package e2e

import (
	"bytes"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/pi2pi/pi2pi/ctl/peertext"
	"golang.org/x/sys/unix"
)

// The delivery tests drive pi2pictl as a script does: chat text comes from
// a pipe that the test holds (so it can tell when pi2pictl has read it
// all), what arrives goes to a buffer or a file.

// seedFor returns the seed of a randomized test: $PI2PI_DELIVERY_SEED when
// set (to replay a failure), else a fresh one. It is logged either way.
func seedFor(t testing.TB) uint64 {
	t.Helper()
	if s := os.Getenv("PI2PI_DELIVERY_SEED"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("PI2PI_DELIVERY_SEED=%q: %v", s, err)
		}
		t.Logf("seed %d (from PI2PI_DELIVERY_SEED)", n)
		return n
	}
	n := uint64(time.Now().UnixNano())
	t.Logf("seed %d (replay with PI2PI_DELIVERY_SEED=%d)", n, n)
	return n
}

// envInt reads a positive count from the environment, def when unset.
func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

// textRunes are the characters of random chat text: ASCII and other
// scripts, all of which pi2pictl shows as they are (peertext.Clean leaves
// them alone; the test checks that too).
var textRunes = func() []rune {
	var rs []rune
	for _, rg := range [][2]rune{{0x20, 0x7e}, {0xc0, 0x17f}, {0x391, 0x3c9}, {0x410, 0x44f}, {0x4e00, 0x4e80}, {0x1f600, 0x1f64f}} {
		for r := rg[0]; r <= rg[1]; r++ {
			if s := string(r); peertext.Clean(s) == s {
				rs = append(rs, r)
			}
		}
	}
	return rs
}()

// randomLine returns up to max bytes of random UTF-8 text, no newline.
func randomLine(rng *rand.Rand, max int) string {
	n := rng.IntN(max + 1)
	var b strings.Builder
	for b.Len() < n {
		r := textRunes[rng.IntN(len(textRunes))]
		if b.Len()+utf8.RuneLen(r) > n {
			break
		}
		b.WriteRune(r)
	}
	return b.String()
}

// shown is what the receiving pi2pictl prints for text: every line ends
// with a newline, the last one too.
func shown(text string) string {
	if text != "" && !strings.HasSuffix(text, "\n") {
		return text + "\n"
	}
	return text
}

// ctlProc is one pi2pictl whose stdin is a pipe held by the test.
type ctlProc struct {
	cmd    *exec.Cmd
	stdin  *os.File    // write end; nil when stdin is /dev/null
	out    *syncBuffer // stdout, unless it goes to a file
	errOut *syncBuffer
	done   chan struct{}
	err    error
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startCtl runs pi2pictl ARGS on tm; with pipe, stdin is a pipe that the
// test writes, else /dev/null. stdout goes to out (a file or a buffer).
func startCtl(t testing.TB, tm *terminal, pipe bool, out *os.File, args ...string) *ctlProc {
	t.Helper()
	p := &ctlProc{done: make(chan struct{}), errOut: &syncBuffer{}}
	p.cmd = exec.Command(ctlBin, append([]string{"--socket", tm.sock}, args...)...)
	if out != nil {
		p.cmd.Stdout = out
	} else {
		p.out = &syncBuffer{}
		p.cmd.Stdout = p.out
	}
	p.cmd.Stderr = p.errOut
	var r *os.File
	if pipe {
		var err error
		if r, p.stdin, err = os.Pipe(); err != nil {
			t.Fatal(err)
		}
		p.cmd.Stdin = r
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("starting pi2pictl: %v", err)
	}
	if r != nil {
		r.Close()
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		if p.stdin != nil {
			p.stdin.Close()
		}
		select {
		case <-p.done:
		default:
			p.cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

func (p *ctlProc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// finish waits for pi2pictl to exit and returns its exit code.
func (p *ctlProc) finish(t testing.TB, what string, timeout time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(timeout):
		p.cmd.Process.Kill()
		<-p.done
		t.Fatalf("%s did not end within %s; stderr: %s", what, timeout, p.errOut.String())
	}
	return p.cmd.ProcessState.ExitCode()
}

// unread is how many bytes written to the pipe pi2pictl has not read yet.
func (p *ctlProc) unread() int {
	n, err := unix.IoctlGetInt(int(p.stdin.Fd()), unix.TIOCINQ)
	if err != nil {
		return -1
	}
	return n
}

// waitRead waits until pi2pictl has read everything written to its stdin:
// from then on all of it is accepted.
func (p *ctlProc) waitRead(t testing.TB) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for p.unread() != 0 {
		if time.Now().After(deadline) || p.exited() {
			t.Fatalf("pi2pictl did not read its input (%d bytes unread; exited %v); stderr: %s", p.unread(), p.exited(), p.errOut.String())
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// signal sends sig to pi2pictl.
func (p *ctlProc) signal(sig syscall.Signal) { _ = p.cmd.Process.Signal(sig) }

// chatPair is a chat from ali's terminal to bianca's, both pi2pictl
// started; bianca's is attached (the call succeeded).
type chatPair struct {
	sender, receiver *ctlProc
}

// startChat starts `pi2pictl wait` on to and `pi2pictl chat callee` on
// from, calling again while the callee is not attached yet.
func startChatPair(t testing.TB, from, to *terminal, callee string, receiverPipe bool, receiverOut *os.File) chatPair {
	t.Helper()
	recv := startCtl(t, to, receiverPipe, receiverOut, "wait")
	deadline := time.Now().Add(stepTimeout)
	for {
		send := startCtl(t, from, true, nil, "chat", callee)
		// The receiver prints its banner once the chat started: the call
		// is through; "away" means wait is not attached yet.
		for !send.exited() && !strings.Contains(send.stdoutSoFar(), established) {
			time.Sleep(2 * time.Millisecond)
		}
		if !send.exited() {
			return chatPair{sender: send, receiver: recv}
		}
		if !strings.Contains(send.errOut.String(), "away") || time.Now().After(deadline) {
			t.Fatalf("chat from %s to %s failed: %s", from.ip, callee, send.errOut.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// stdoutSoFar returns what pi2pictl printed so far ("" when stdout is a file).
func (p *ctlProc) stdoutSoFar() string {
	if p.out == nil {
		return ""
	}
	return p.out.String()
}
