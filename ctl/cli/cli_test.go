package cli

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pi2pi/pi2pi/daemon/backend/backendtest"
	"github.com/pi2pi/pi2pi/internal/control"
	"github.com/pi2pi/pi2pi/internal/testbin"
)

// run is one pi2pictl run with stdin from a pipe.
type run struct {
	stdout, stderr testbin.Buffer
	stdinW         io.WriteCloser
	code           chan int
	env            *Env
	interrupts     chan os.Signal
}

// start runs pi2pictl on d's control socket (none when d is nil) in the
// background; stdin stays open until closeStdin.
func start(t *testing.T, d *backendtest.Terminal, args ...string) *run {
	t.Helper()
	socket := ""
	if d != nil {
		socket = d.Socket
	}
	return startOn(t, socket, args...)
}

// startOn is start with a control socket's path.
func startOn(t *testing.T, socket string, args ...string) *run {
	t.Helper()
	pr, pw := io.Pipe()
	r := startWith(t, socket, pr, nil, args...)
	r.stdinW = pw
	t.Cleanup(func() { pw.Close(); pr.Close() })
	return r
}

// startWith runs pi2pictl on the control socket at socket with stdin, and
// with stdout, or r.stdout when stdout is nil.
func startWith(t *testing.T, socket string, stdin io.Reader, stdout io.Writer, args ...string) *run {
	t.Helper()
	r := &run{code: make(chan int, 1), interrupts: make(chan os.Signal, 1)}
	if stdout == nil {
		stdout = &r.stdout
	}
	stateDir := t.TempDir()
	r.env = &Env{
		Stdin: stdin, Stdout: stdout, Stderr: &r.stderr,
		Getenv: func(k string) string {
			switch k {
			case "PI2PI_SOCKET":
				return socket
			case "XDG_STATE_HOME":
				return stateDir
			}
			return ""
		},
		Interrupts: r.interrupts,
	}
	go func() { r.code <- Run(args, r.env) }()
	return r
}

func (r *run) type_(s string) { io.WriteString(r.stdinW, s) }

func (r *run) closeStdin() { r.stdinW.Close() }

func (r *run) wait(t *testing.T) int {
	t.Helper()
	select {
	case c := <-r.code:
		return c
	case <-time.After(20 * time.Second):
		t.Fatalf("pi2pictl did not finish; stdout:\n%s\nstderr:\n%s", r.stdout.String(), r.stderr.String())
		return -1
	}
}

// waitFor waits until stdout contains s.
func (r *run) waitFor(t *testing.T, s string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(r.stdout.String(), s) {
		if time.Now().After(deadline) {
			t.Fatalf("stdout never showed %q; stdout:\n%s\nstderr:\n%s", s, r.stdout.String(), r.stderr.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// pipeRun runs pi2pictl to completion with the given stdin.
func pipeRun(t *testing.T, d *backendtest.Terminal, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	r := start(t, d, args...)
	go func() {
		r.type_(stdin)
		r.closeStdin()
	}()
	code = r.wait(t)
	return r.stdout.String(), r.stderr.String(), code
}

func TestLoginFromPipe(t *testing.T) {
	d := daemon(t, backendtest.Options{})
	out, errOut, code := pipeRun(t, d, "ali\n1234\n", "login")
	if code != 0 {
		t.Fatalf("exit %d, stderr %s", code, errOut)
	}
	want := "Login: ali\nEnter passcode on keypad.\nLogged in.\n"
	if out != want {
		t.Fatalf("stdout:\n%q\nwant\n%q", out, want)
	}
	keysAre(t, d, "1,2,3,4,enter")
	if strings.Contains(out+errOut, "1234") {
		t.Fatal("the passcode was shown")
	}
}

func TestLoginWithUserIDArgument(t *testing.T) {
	d := daemon(t, backendtest.Options{})
	out, errOut, code := pipeRun(t, nil, "5678\n", "--socket", d.Socket, "login", "Bianca")
	if code != 0 || out != "Login: bianca\nEnter passcode on keypad.\nLogged in.\n" {
		t.Fatalf("exit %d\nstdout %q\nstderr %q", code, out, errOut)
	}
}

func TestLoginRefused(t *testing.T) {
	d := daemon(t, backendtest.Options{})
	out, errOut, code := pipeRun(t, d, "ali\n9999\n", "login")
	if code != 1 || strings.Contains(out, "Logged in.") || !strings.Contains(errOut, "Login refused") {
		t.Fatalf("exit %d\nstdout %q\nstderr %q", code, out, errOut)
	}
}

func TestLoginBadPasscodeLine(t *testing.T) {
	d := daemon(t, backendtest.Options{})
	out, errOut, code := pipeRun(t, d, "ali\n12x4\n", "login")
	if code != 1 || !strings.Contains(errOut, "digits") {
		t.Fatalf("exit %d\nstdout %q\nstderr %q", code, out, errOut)
	}
	if strings.Contains(errOut, "12x4") {
		t.Fatal("the passcode line was shown")
	}
	if got := keys(d); got != "cancel" {
		t.Fatalf("keys = %s, want a cancel", got)
	}
}

// A hardware keypad (here a matrix on simulated pins): pi2pictl takes no
// keys, and CTRL-C cancels the passcode entry.
func TestLoginGPIOKeypad(t *testing.T) {
	d := daemon(t, backendtest.Options{Hardware: true})
	r := start(t, d, "login", "ali")
	r.waitFor(t, "Enter passcode on keypad.\n")
	r.interrupts <- os.Interrupt
	if code := r.wait(t); code != 1 {
		t.Fatalf("exit %d", code)
	}
	if !strings.Contains(r.stderr.String(), "Login cancelled.") {
		t.Fatalf("stderr %q", r.stderr.String())
	}
	if got := keys(d); got != "" {
		t.Fatalf("keys %s were pressed on a hardware keypad's terminal", got)
	}
}

func TestLoginAlreadyLoggedIn(t *testing.T) {
	d := logIn(t, daemon(t, backendtest.Options{}), "ali")
	out, _, code := pipeRun(t, d, "", "login")
	if code != 0 || out != "Already logged in as ali.\n" {
		t.Fatalf("exit %d, stdout %q", code, out)
	}
}

// pi2pid logged in as ali, but the server forgot it: login logs in afresh.
func TestLoginAfterTheServerForgot(t *testing.T) {
	d := logIn(t, daemon(t, backendtest.Options{}), "ali")
	d.Net.Server.Forget("ali")
	out, errOut, code := pipeRun(t, d, "bianca\n5678\n", "login")
	if code != 0 || out != "Login: bianca\nEnter passcode on keypad.\nLogged in.\n" ||
		!strings.Contains(errOut, "the server no longer knows that login") {
		t.Fatalf("exit %d\nstdout %q\nstderr %q", code, out, errOut)
	}
	d = logIn(t, daemon(t, backendtest.Options{}), "ali")
	d.Net.Server.Forget("ali")
	out, errOut, code = pipeRun(t, d, "1234\n", "login", "ali")
	if code != 0 || out != "Login: ali\nEnter passcode on keypad.\nLogged in.\n" {
		t.Fatalf("exit %d\nstdout %q\nstderr %q", code, out, errOut)
	}
}

func TestShellStartsAtDestinationWhenLoggedIn(t *testing.T) {
	d := logIn(t, daemon(t, backendtest.Options{}), "ali")
	out, errOut, code := pipeRun(t, nil, "/status\ncarol\n", "--socket", d.Socket)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.HasPrefix(out, "Enter destination user ID: \nState:") || !strings.Contains(out, "User:               ali") {
		t.Fatalf("stdout:\n%s", out)
	}
	if !strings.Contains(errOut, "carol is not logged in.") {
		t.Fatalf("stderr %q", errOut)
	}
}

func TestStatus(t *testing.T) {
	d := logIn(t, daemon(t, backendtest.Options{}), "ali")
	out, _, code := pipeRun(t, d, "", "status", "--json")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	var st control.Status
	if err := json.Unmarshal([]byte(out), &st); err != nil || st.State != "logged-in" || st.UserID != "ali" {
		t.Fatalf("status --json = %q (%v)", out, err)
	}
	out, _, code = pipeRun(t, d, "", "status")
	if code != 0 || !strings.Contains(out, "State:              logged-in\n") {
		t.Fatalf("exit %d, stdout %q", code, out)
	}
}

func TestLogout(t *testing.T) {
	d := logIn(t, daemon(t, backendtest.Options{}), "ali")
	out, _, code := pipeRun(t, d, "", "logout")
	if code != 0 || out != "Logged out.\n" {
		t.Fatalf("exit %d, stdout %q", code, out)
	}
	if d.Net.Server.LoggedIn("ali") {
		t.Fatal("the server still holds ali's login")
	}
}

// A refusal of pi2pid reaches the person in words, not as its code.
func TestLogoutWhenLoggedOut(t *testing.T) {
	d := daemon(t, backendtest.Options{})
	_, errOut, code := pipeRun(t, d, "", "logout")
	if code != 1 || errOut != "pi2pictl: not logged in: run `pi2pictl login` first.\n" {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
}

func TestUsageErrors(t *testing.T) {
	tests := [][]string{
		{"frobnicate"},
		{"chat"},
		{"chat", "a", "b"},
		{"chat", "no spaces allowed"},
		{"status", "--nope"},
		{"verify"},
		{"--nope"},
	}
	for _, args := range tests {
		_, errOut, code := pipeRun(t, nil, "", args...)
		if code != 2 || !strings.HasPrefix(errOut, "pi2pictl: ") {
			t.Errorf("%v: exit %d, stderr %q", args, code, errOut)
		}
	}
	_, errOut, _ := pipeRun(t, nil, "", "chat")
	if !strings.Contains(errOut, "missing <USERID>") {
		t.Errorf("missing argument not named: %q", errOut)
	}
}

func TestHelp(t *testing.T) {
	for _, c := range commands() {
		out, _, code := pipeRun(t, nil, "", c.Name, "--help")
		if code != 0 || !strings.HasPrefix(out, "Usage: pi2pictl [--socket PATH] "+c.Name) {
			t.Errorf("%s --help: exit %d, %q", c.Name, code, out)
		}
	}
	out, _, code := pipeRun(t, nil, "", "--help")
	if code != 0 || !strings.Contains(out, "chat <USERID>") || !strings.Contains(out, "login [USERID]") {
		t.Errorf("--help: exit %d, %q", code, out)
	}
}

func TestDaemonNotRunning(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "control.sock")
	_, errOut, code := pipeRun(t, nil, "", "--socket", sock, "status")
	if code != 1 || !strings.Contains(errOut, "sudo systemctl start pi2pid.socket") {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
}

// A pi2pid of another control protocol version: a socket that answers
// the hello with a newer version, as no pi2pid of this build can.
func TestVersionMismatch(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "control.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		if _, err := bufio.NewReader(c).ReadBytes('\n'); err != nil {
			return
		}
		hello, _ := json.Marshal(control.Reply{Type: control.TypeHello, Version: control.Version + 1, Daemon: "pi2pid (newer)"})
		c.Write(append(hello, '\n'))
		io.Copy(io.Discard, c)
	}()
	_, errOut, code := pipeRun(t, nil, "", "--socket", sock, "status")
	if code != 1 || !strings.Contains(errOut, "upgrade pi2pictl") {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
}
func TestExplain(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{fmt.Errorf("%w /x", control.ErrPermission), "add yourself to group pi2pi with `sudo usermod -aG pi2pi $USER`, then log in again."},
		{fmt.Errorf("%w (no daemon)", control.ErrDaemonNotRunning), "sudo systemctl start pi2pid.socket"},
		{&control.VersionError{Client: 2, Daemon: 1}, "upgrade pi2pid"},
		{control.ErrClosed, "journalctl -u pi2pid"},
	}
	for _, tt := range tests {
		if got := explain(tt.err, "/x"); !strings.Contains(got, tt.want) {
			t.Errorf("explain(%v) = %q, want it to contain %q", tt.err, got, tt.want)
		}
	}
	if exitCode(usageErrorf("x")) != 2 || exitCode(errors.New("x")) != 1 || exitCode(nil) != 0 {
		t.Error("exit codes")
	}
}

func TestCompleter(t *testing.T) {
	r := &recentUsers{}
	dir := t.TempDir()
	hist := filepath.Join(dir, "history")
	os.WriteFile(hist, []byte("bianca\n/verify bob\n/status\nhello there\nBeth\n"), 0o600)
	r.load(hist)
	c := &completer{recent: r}
	c.mode.Store(completeDest)
	do := func(s string) string {
		cands, n := c.Do([]rune(s), len([]rune(s)))
		var out []string
		for _, x := range cands {
			out = append(out, string(x))
		}
		return fmt.Sprintf("%d:%s", n, strings.Join(out, ","))
	}
	tests := map[string]string{
		"b":         "1:eth ,ob ,ianca ",
		"bi":        "2:anca ",
		"/st":       "3:atus ",
		"/verify b": "1:eth ,ob ,ianca ",
		"/status b": "0:",
		"x":         "1:",
	}
	for in, want := range tests {
		if got := do(in); got != want {
			t.Errorf("complete %q = %q, want %q", in, got, want)
		}
	}
	// During a chat Tab is text: its one "completion" is a tab.
	c.mode.Store(completeNothing)
	if got := do("b"); got != "0:\t" {
		t.Errorf("Tab during a chat completes to %q, want a tab", got)
	}
}

func TestHistoryPath(t *testing.T) {
	dir := t.TempDir()
	p := historyPath(func(k string) string {
		if k == "XDG_STATE_HOME" {
			return dir
		}
		return ""
	})
	if p != filepath.Join(dir, "pi2pi", "history") {
		t.Fatalf("historyPath = %q", p)
	}
	p = historyPath(func(k string) string {
		if k == "HOME" {
			return dir
		}
		return ""
	})
	if p != filepath.Join(dir, ".local", "state", "pi2pi", "history") {
		t.Fatalf("historyPath = %q", p)
	}
}
