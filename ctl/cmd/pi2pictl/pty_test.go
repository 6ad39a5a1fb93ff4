package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pi2pi/pi2pi/daemon/backend/backendtest"
	"github.com/pi2pi/pi2pi/internal/testbin"
	"golang.org/x/sys/unix"
)

func TestMain(m *testing.M) { testbin.Main(m) }

// ptyRun is pi2pictl running on a pseudo-terminal.
type ptyRun struct {
	master *os.File
	screen *testbin.Buffer
	cmd    *exec.Cmd
}

// openPTY opens a pseudo-terminal pair (testbin.OpenPTY).
func openPTY(t *testing.T) (master, slave *os.File) { return testbin.OpenPTY(t) }

func startOnPTY(t *testing.T, env []string, args ...string) *ptyRun {
	t.Helper()
	bin := testbin.Build(t, "./ctl/cmd/pi2pictl")
	master, slave := openPTY(t)
	cmd := exec.Command(bin, args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "TERM=xterm"}, env...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	slave.Close()
	r := &ptyRun{master: master, screen: &testbin.Buffer{}, cmd: cmd}
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := master.Read(buf)
			r.screen.Write(buf[:n])
			if err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		master.Close()
	})
	return r
}

func (r *ptyRun) type_(t *testing.T, s string) {
	t.Helper()
	if _, err := r.master.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
}

// waitScreen waits until the terminal showed s after offset from; it
// returns the offset just past it.
func (r *ptyRun) waitScreen(t *testing.T, from int, s string) int {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		out := r.screen.String()
		if i := strings.Index(out[from:], s); i >= 0 {
			return from + i + len(s)
		}
		if time.Now().After(deadline) {
			t.Fatalf("the terminal never showed %q; it shows:\n%q", s, out[from:])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestShellOnTerminal drives the interactive shell on a real
// pseudo-terminal: passcode entry with echo off, then a message arriving
// while the user is halfway through typing a line.
func TestShellOnTerminal(t *testing.T) {
	// pi2pid ends a cancelled passcode entry on its own time, after the
	// Cancel key's result: the shell must wait for that before it says
	// "Login cancelled." and offers a new login.
	d := backendtest.Start(t, backendtest.Options{})
	bianca := d.Neighbour(t)
	piped(t, bianca, "5678\n", "login", "bianca").exited(t)
	b := piped(t, bianca, "", "wait")
	bianca.WaitAttached(t)
	state := t.TempDir()
	r := startOnPTY(t, []string{"XDG_STATE_HOME=" + state, "PI2PI_SOCKET=" + d.Socket})

	// First try: Esc cancels passcode entry.
	at := r.waitScreen(t, 0, "Login: ")
	r.type_(t, "ali\r")
	at = r.waitScreen(t, at, "Enter passcode on keypad.")
	r.type_(t, "12")
	time.Sleep(100 * time.Millisecond)
	r.type_(t, "\x1b")
	at = r.waitScreen(t, at, "Login cancelled.")
	at = r.waitScreen(t, at, "Login: ")

	// Second try: digits with a correction, an arrow key, Enter.
	r.type_(t, "ali\r")
	passAt := r.waitScreen(t, at, "Enter passcode on keypad.")
	r.type_(t, "129\x7f3\x1b[D4\r")
	at = r.waitScreen(t, passAt, "Logged in.")
	if strings.Contains(r.screen.String()[:passAt], "\bali\r\n") {
		t.Fatalf("the terminal echoed the user ID itself (it was not in raw mode):\n%q", r.screen.String()[:passAt])
	}
	shown := r.screen.String()[passAt:at]
	if strings.ContainsAny(shown, "0123456789*") {
		t.Fatalf("passcode entry showed %q", shown)
	}
	at = r.waitScreen(t, at, "Enter destination user ID: ")

	r.type_(t, "bianca\r")
	at = r.waitScreen(t, at, "Connection established, type your messages")

	// Halfway through a line, a message arrives.
	r.type_(t, "hello wor")
	at = r.waitScreen(t, at, "hello wor")
	b.type_(t, "I am fine, \x1b]0;pwned\x07how about you?\n")
	at = r.waitScreen(t, at, "bianca> I am fine, how about you?")
	// readline redraws the half-typed line below the message.
	at = r.waitScreen(t, at, "hello wor")
	r.type_(t, "ld\r")
	b.waitOut(t, "hello world\n") // the typed line reached bianca intact
	// Tab is text in a chat (a paste of a table), not completion.
	r.type_(t, "a\tb\t\r")
	b.waitOut(t, "a\tb\t\n")
	if strings.Contains(r.screen.String(), "pwned") {
		t.Fatal("the peer's escape sequence reached the terminal")
	}

	// CTRL-C ends the chat, and the shell is back at the prompt.
	r.type_(t, "\x03")
	at = r.waitScreen(t, at, "Connection ended")
	b.waitOut(t, "Connection ended\n") // the end reached bianca
	b.exited(t)
	at = r.waitScreen(t, at, "Enter destination user ID: ")

	// CTRL-C at a prompt clears the line; CTRL-D leaves the shell.
	r.type_(t, "oops\x03")
	r.waitScreen(t, at, "Enter destination user ID: ")
	r.type_(t, "\x04")
	done := make(chan error, 1)
	go func() { done <- r.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("pi2pictl: %v; screen:\n%q", err, r.screen.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("CTRL-D did not leave the shell; screen:\n%q", r.screen.String())
	}

	hist, err := os.ReadFile(filepath.Join(state, "pi2pi", "history"))
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"1234", "129", "hello", "fine", "oops"} {
		if strings.Contains(string(hist), secret) {
			t.Errorf("history holds %q:\n%s", secret, hist)
		}
	}
	if !strings.Contains(string(hist), "bianca") {
		t.Errorf("history lacks the destination:\n%s", hist)
	}
}

// TestShellPasscodeTimesOut: pi2pid ends passcode entry on its own (its
// --passcode-timeout) while the shell waits for keys. The shell must say
// so and show "Login:" again without a key being pressed, and the next
// key typed must reach that prompt: a passcode reader left waiting would
// hold the terminal until a key came, and take that key.
func TestShellPasscodeTimesOut(t *testing.T) {
	d := backendtest.Start(t, backendtest.Options{PasscodeTimeout: 300 * time.Millisecond})
	r := startOnPTY(t, []string{"XDG_STATE_HOME=" + t.TempDir(), "PI2PI_SOCKET=" + d.Socket})

	at := r.waitScreen(t, 0, "Login: ")
	for try := 1; try <= 2; try++ {
		r.type_(t, "ali\r")
		// The whole user ID reached readline, which echoes it.
		at = r.waitScreen(t, at, "ali")
		at = r.waitScreen(t, at, "Enter passcode on keypad.")
		at = r.waitScreen(t, at, "Login timed out: no key was pressed on the keypad for too long.")
		at = r.waitScreen(t, at, "Login: ")
	}
	select {
	case k := <-d.Keys:
		t.Fatalf("key %s reached pi2pid; none was pressed", k)
	default:
	}
	leaveShell(t, r, at)
}

// TestShellInterruptDuringPasscodeEntry: a SIGINT (kill -INT; CTRL-C is a
// key in passcode mode) cancels passcode entry, and the shell is back at
// "Login:" at once with the terminal in line mode again.
func TestShellInterruptDuringPasscodeEntry(t *testing.T) {
	d := backendtest.Start(t, backendtest.Options{})
	r := startOnPTY(t, []string{"XDG_STATE_HOME=" + t.TempDir(), "PI2PI_SOCKET=" + d.Socket})

	at := r.waitScreen(t, 0, "Login: ")
	r.type_(t, "ali\r")
	at = r.waitScreen(t, at, "Enter passcode on keypad.")
	if err := r.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	at = r.waitScreen(t, at, "Login cancelled.")
	at = r.waitScreen(t, at, "Login: ")
	if k := d.NextKey(t); k != "cancel" {
		t.Fatalf("after SIGINT pi2pid got key %s, want cancel", k)
	}

	r.type_(t, "ali\r")
	at = r.waitScreen(t, at, "ali")
	at = r.waitScreen(t, at, "Enter passcode on keypad.")
	r.type_(t, "1234\r")
	at = r.waitScreen(t, at, "Logged in.")
	if got := nextKeys(t, d); got != "1,2,3,4,enter" {
		t.Fatalf("keys %s, want 1,2,3,4,enter", got)
	}
	at = r.waitScreen(t, at, "Enter destination user ID: ")
	leaveShell(t, r, at)
}

// TestShellPasscodeCancelledByLogout: `pi2pictl logout` from elsewhere
// cancels passcode entry; the shell shows "Login:" again at once.
func TestShellPasscodeCancelledByLogout(t *testing.T) {
	d := backendtest.Start(t, backendtest.Options{})
	r := startOnPTY(t, []string{"XDG_STATE_HOME=" + t.TempDir(), "PI2PI_SOCKET=" + d.Socket})

	at := r.waitScreen(t, 0, "Login: ")
	r.type_(t, "ali\r")
	at = r.waitScreen(t, at, "Enter passcode on keypad.")
	logout := exec.Command(testbin.Build(t, "./ctl/cmd/pi2pictl"), "--socket", d.Socket, "logout")
	if out, err := logout.CombinedOutput(); err != nil {
		t.Fatalf("pi2pictl logout: %v\n%s", err, out)
	}
	at = r.waitScreen(t, at, "Login cancelled.")
	at = r.waitScreen(t, at, "Login: ")
	r.type_(t, "ali\r")
	at = r.waitScreen(t, at, "ali")
	at = r.waitScreen(t, at, "Enter passcode on keypad.")
	r.type_(t, "1234\r")
	at = r.waitScreen(t, at, "Logged in.")
	at = r.waitScreen(t, at, "Enter destination user ID: ")
	leaveShell(t, r, at)
}

// TestLoginOnTerminalTimesOut: `pi2pictl login` ends when pi2pid times
// passcode entry out, at once and with the terminal's echo back on.
func TestLoginOnTerminalTimesOut(t *testing.T) {
	d := backendtest.Start(t, backendtest.Options{PasscodeTimeout: 300 * time.Millisecond})
	r := startOnPTY(t, []string{"PI2PI_SOCKET=" + d.Socket}, "login", "ali")
	at := r.waitScreen(t, 0, "Enter passcode on keypad.")
	r.waitScreen(t, at, "Login timed out")
	err := waitExit(t, r)
	if code := exitCode(err); code != 1 {
		t.Fatalf("exit %v, want 1; screen:\n%q", err, r.screen.String())
	}
	tio, err := unix.IoctlGetTermios(int(r.master.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	if tio.Lflag&unix.ECHO == 0 || tio.Lflag&unix.ICANON == 0 {
		t.Fatalf("pi2pictl left the terminal without echo or line mode (lflag %#x)", tio.Lflag)
	}
}

// leaveShell ends the shell with CTRL-D at a prompt.
func leaveShell(t *testing.T, r *ptyRun, at int) {
	t.Helper()
	r.type_(t, "\x04")
	if err := waitExit(t, r); err != nil {
		t.Fatalf("pi2pictl: %v; screen:\n%q", err, r.screen.String()[at:])
	}
}

// waitExit waits for pi2pictl to end and returns how it ended.
func waitExit(t *testing.T, r *ptyRun) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- r.cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(10 * time.Second):
		t.Fatalf("pi2pictl did not end; screen:\n%q", r.screen.String())
		return nil
	}
}

func exitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}

// TestPasscodeTypedAheadIsNotEchoed: a touch typist types the user ID,
// Enter and the passcode in one go, before "Enter passcode on keypad."
// appears. The digits are already waiting in the terminal when the prompt
// shows; none may be echoed, and all must reach pi2pid as key presses
// (not be swallowed by the line editor into the next prompt).
func TestPasscodeTypedAheadIsNotEchoed(t *testing.T) {
	d := backendtest.Start(t, backendtest.Options{})
	r := startOnPTY(t, []string{"XDG_STATE_HOME=" + t.TempDir(), "PI2PI_SOCKET=" + d.Socket})
	at := r.waitScreen(t, 0, "Login: ")
	r.type_(t, "ali\r129\x7f3\x1b[D4\r")
	at = r.waitScreen(t, at, "Logged in.")
	shown := r.screen.String()[:at]
	if i := strings.LastIndex(shown, "Login: "); i >= 0 {
		shown = shown[i:]
	}
	if strings.ContainsAny(shown, "0123456789*") || strings.Contains(shown, "^[") {
		t.Fatalf("the passcode typed ahead was echoed:\n%q", shown)
	}
	if got := nextKeys(t, d); got != "1,2,9,backspace,3,4,enter" {
		t.Fatalf("keys %s, want 1,2,9,backspace,3,4,enter", got)
	}
	at = r.waitScreen(t, at, "Enter destination user ID: ")
	// Echo is back for the next line.
	r.type_(t, "bianc")
	r.waitScreen(t, at, "bianc")
	r.type_(t, "\x15\x04")
	if err := waitExit(t, r); err != nil {
		t.Fatalf("pi2pictl: %v; screen:\n%q", err, r.screen.String()[at:])
	}
}

// nextKeys returns the console keys d's keypad takes up to and with the
// next Enter.
func nextKeys(t *testing.T, d *backendtest.Terminal) string {
	t.Helper()
	var keys []string
	for len(keys) == 0 || keys[len(keys)-1] != "enter" {
		keys = append(keys, string(d.NextKey(t)))
	}
	return strings.Join(keys, ",")
}
