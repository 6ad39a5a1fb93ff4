package cli

import (
	"io"
	"strings"
	"testing"
	"time"

	"github.com/pi2pi/pi2pi/ctl/tty"
	"github.com/pi2pi/pi2pi/daemon/backend/backendtest"
	"github.com/pi2pi/pi2pi/internal/control"
	"github.com/pi2pi/pi2pi/internal/control/controltest"
	"github.com/pi2pi/pi2pi/internal/testbin"
	"golang.org/x/sys/unix"
)

func lflags(t *testing.T, fd uintptr) uint32 {
	t.Helper()
	tio, err := unix.IoctlGetTermios(int(fd), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	return tio.Lflag
}

// TestChatTerminalTakesCtrlCAsAKey: on a terminal, from the moment the
// chat's start is shown to the chat's end, CTRL-C is a key, read in turn
// after the lines typed before it, and never a signal for which the
// kernel throws away what the terminal holds. Lines pasted with CTRL-C
// right after the last Enter all arrive (with the terminal in its own
// mode between two lines, or before the first was read, they were lost).
// Once pi2pictl has ended, the terminal is back in its own mode.
func TestChatTerminalTakesCtrlCAsAKey(t *testing.T) {
	ali, biancaTm := aliAndBianca(t, backendtest.Options{})
	bianca := controltest.Attach(t, biancaTm.Socket)
	bianca.Must(control.Request{Op: control.OpWait})
	master, slave := testbin.OpenPTY(t)
	t.Cleanup(func() { master.Close(); slave.Close() })
	own := lflags(t, slave.Fd())
	if own&unix.ISIG == 0 || own&unix.ICANON == 0 {
		t.Skip("the pseudo-terminal does not start in line mode with signals")
	}
	screen := &testbin.Buffer{}
	go func() { _, _ = io.Copy(screen, master) }()

	r := startWith(t, ali.Socket, slave, slave, "chat", "bianca")
	waitScreen(t, screen, "Connection established")
	if l := lflags(t, slave.Fd()); l&(unix.ISIG|unix.ICANON) != 0 {
		t.Fatalf("the chat's start is shown with the terminal in line mode or with signals (lflag %#x): a CTRL-C typed now would throw away what was typed before it", l)
	}
	bianca.NextRaw(control.EventChatStart, control.EventChatEnd)
	lines := strings.Repeat("a pasted line\r", 50) + "the last one\r"
	if _, err := master.Write([]byte(lines + "\x03")); err != nil {
		t.Fatal(err)
	}
	want := strings.ReplaceAll(lines, "\r", "\n")
	if got := bianca.ReadAll(); got != want {
		t.Fatalf("bianca received %q, want %q", got, want)
	}
	bianca.Next(control.EventChatEnd)
	if code := r.wait(t); code != 0 {
		t.Fatalf("exit %d; stderr %q", code, r.stderr.String())
	}
	if l := lflags(t, slave.Fd()); l != own {
		t.Fatalf("pi2pictl left the terminal's local modes at %#x, not its own %#x", l, own)
	}
	waitScreen(t, screen, "Connection ended")
	if n := strings.Count(screen.String(), "Connection ended"); n != 1 {
		t.Fatalf("the terminal showed Connection ended %d times:\n%q", n, screen.String())
	}
}

// TestSlowLineWriteGivesTheTerminalBack: while a typed line's write waits
// for a slow peer, nothing reads keys; after slowWrite the terminal is
// back in its own mode, so that CTRL-C is a signal again and can end the
// chat (README: a second CTRL-C leaves at once).
func TestSlowLineWriteGivesTheTerminalBack(t *testing.T) {
	master, slave := testbin.OpenPTY(t)
	t.Cleanup(func() { master.Close(); slave.Close() })
	own := lflags(t, slave.Fd())
	e := &engine{mode: tty.NewLineMode(int(slave.Fd())), chatIO: chatIO{sendQ: make(chan writeItem), sendDone: make(chan error, 1)}}
	if err := e.mode.Quiet(); err != nil { // as in a chat, between lines
		t.Fatal(err)
	}
	s, peer := controltest.StreamPair(t) // pi2pid's end reads nothing
	go e.sendLines()
	defer close(e.sendQ)
	e.sendQ <- writeItem{s, strings.Repeat("a long line ", 4<<20), e.whenSlow()}
	deadline := time.Now().Add(20 * time.Second)
	for lflags(t, slave.Fd()) != own {
		if time.Now().After(deadline) {
			t.Fatalf("a write held up for good left the terminal at %#x, not its own %#x", lflags(t, slave.Fd()), own)
		}
		time.Sleep(time.Millisecond)
	}
	peer.Close()
	if err := <-e.sendDone; err == nil {
		t.Fatal("the write to a closed stream did not fail")
	}
}

// waitScreen waits until the terminal has shown s.
func waitScreen(t *testing.T, screen *testbin.Buffer, s string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(screen.String(), s) {
		if time.Now().After(deadline) {
			t.Fatalf("the terminal never showed %q; it shows %q", s, screen.String())
		}
		time.Sleep(time.Millisecond)
	}
}
