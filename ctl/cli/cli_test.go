package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pi2pi/pi2pi/ctl/daemontest"
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

// start runs pi2pictl in the background; stdin stays open until closeStdin.
func start(t *testing.T, d *daemontest.Daemon, args ...string) *run {
	t.Helper()
	r := &run{code: make(chan int, 1), interrupts: make(chan os.Signal, 1)}
	pr, pw := io.Pipe()
	r.stdinW = pw
	stateDir := t.TempDir()
	r.env = &Env{
		Stdin: pr, Stdout: &r.stdout, Stderr: &r.stderr,
		Getenv: func(k string) string {
			switch k {
			case "PI2PI_SOCKET":
				if d != nil {
					return d.Socket
				}
			case "XDG_STATE_HOME":
				return stateDir
			}
			return ""
		},
		Interrupts: r.interrupts,
	}
	go func() { r.code <- Run(args, r.env) }()
	t.Cleanup(func() { pw.Close(); pr.Close() })
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
func pipeRun(t *testing.T, d *daemontest.Daemon, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	r := start(t, d, args...)
	go func() {
		r.type_(stdin)
		r.closeStdin()
	}()
	code = r.wait(t)
	return r.stdout.String(), r.stderr.String(), code
}

func keys(d *daemontest.Daemon) string {
	var out []string
	for {
		select {
		case k := <-d.Keys:
			out = append(out, k)
		default:
			return strings.Join(out, ",")
		}
	}
}

func TestLoginFromPipe(t *testing.T) {
	d := daemontest.Start(t, daemontest.Options{})
	out, errOut, code := pipeRun(t, d, "ali\n1234\n", "login")
	if code != 0 {
		t.Fatalf("exit %d, stderr %s", code, errOut)
	}
	want := "Login: ali\nEnter passcode on keypad.\nLogged in.\n"
	if out != want {
		t.Fatalf("stdout:\n%q\nwant\n%q", out, want)
	}
	if got := keys(d); got != "1,2,3,4,enter" {
		t.Fatalf("keys = %s", got)
	}
	if strings.Contains(out+errOut, "1234") {
		t.Fatal("the passcode was shown")
	}
}

func TestLoginWithUserIDArgument(t *testing.T) {
	d := daemontest.Start(t, daemontest.Options{})
	out, errOut, code := pipeRun(t, d, "5678\n", "--socket", d.Socket, "login", "Bianca")
	if code != 0 || out != "Login: bianca\nEnter passcode on keypad.\nLogged in.\n" {
		t.Fatalf("exit %d\nstdout %q\nstderr %q", code, out, errOut)
	}
}

func TestLoginRefused(t *testing.T) {
	d := daemontest.Start(t, daemontest.Options{})
	out, errOut, code := pipeRun(t, d, "ali\n9999\n", "login")
	if code != 1 || strings.Contains(out, "Logged in.") || !strings.Contains(errOut, "Login refused") {
		t.Fatalf("exit %d\nstdout %q\nstderr %q", code, out, errOut)
	}
}

func TestLoginBadPasscodeLine(t *testing.T) {
	d := daemontest.Start(t, daemontest.Options{})
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

func TestLoginGPIOKeypad(t *testing.T) {
	d := daemontest.Start(t, daemontest.Options{Keypad: control.KeypadRPIO})
	r := start(t, d, "login", "ali")
	r.waitFor(t, "Enter passcode on keypad.\n")
	// Someone types on the real keypad: the daemon reports the outcome.
	// Here, the passcode entry is cancelled with CTRL-C.
	r.interrupts <- os.Interrupt
	if code := r.wait(t); code != 1 {
		t.Fatalf("exit %d", code)
	}
	if !strings.Contains(r.stderr.String(), "Login cancelled.") {
		t.Fatalf("stderr %q", r.stderr.String())
	}
}

func TestLoginAlreadyLoggedIn(t *testing.T) {
	d := daemontest.Start(t, daemontest.Options{LoggedInAs: "ali"})
	out, _, code := pipeRun(t, d, "", "login")
	if code != 0 || out != "Already logged in as ali.\n" {
		t.Fatalf("exit %d, stdout %q", code, out)
	}
}

// pi2pid logged in as ali, but the server forgot it: login logs in afresh.
func TestLoginAfterTheServerForgot(t *testing.T) {
	d := daemontest.Start(t, daemontest.Options{LoggedInAs: "ali", ServerForgot: true})
	out, errOut, code := pipeRun(t, d, "bianca\n5678\n", "login")
	if code != 0 || out != "Login: bianca\nEnter passcode on keypad.\nLogged in.\n" ||
		!strings.Contains(errOut, "the server no longer knows that login") {
		t.Fatalf("exit %d\nstdout %q\nstderr %q", code, out, errOut)
	}
	d = daemontest.Start(t, daemontest.Options{LoggedInAs: "ali", ServerForgot: true})
	out, errOut, code = pipeRun(t, d, "1234\n", "login", "ali")
	if code != 0 || out != "Login: ali\nEnter passcode on keypad.\nLogged in.\n" {
		t.Fatalf("exit %d\nstdout %q\nstderr %q", code, out, errOut)
	}
}

func TestChatFromPipe(t *testing.T) {
	d := daemontest.Start(t, daemontest.Options{LoggedInAs: "ali", SafetyCode: "1234 5678 9012"})
	r := start(t, d, "chat", "bianca")
	r.waitFor(t, "Connection established, type your messages\n")
	r.type_("Hello, how are you today?\n")
	if got := d.NextSent(t); got != "Hello, how are you today?\n" {
		t.Fatalf("sent %q", got)
	}
	// The peer answers in two chunks, with an attempt to retitle the window.
	d.PeerSays(t, "I am fine, \x1b]0;pwned\x07how ")
	d.PeerSays(t, "about you?\n")
	r.waitFor(t, "I am fine, how about you?\n")
	r.type_("I am well. Goodbye.\n")
	r.closeStdin()
	if got := d.NextSent(t); got != "I am well. Goodbye.\n" {
		t.Fatalf("sent %q", got)
	}
	if got := d.NextSent(t); got != "<end>" {
		t.Fatalf("after the last line came %q, want the end", got)
	}
	if code := r.wait(t); code != 0 {
		t.Fatalf("exit %d, stderr %s", code, r.stderr.String())
	}
	want := "Connection established, type your messages\n" +
		"Safety code: 1234 5678 9012 (compare it with bianca by voice)\n" +
		"I am fine, how about you?\n" +
		"Connection ended\n"
	if got := r.stdout.String(); got != want {
		t.Fatalf("stdout:\n%q\nwant\n%q", got, want)
	}
}

func TestChatPeerEnds(t *testing.T) {
	d := daemontest.Start(t, daemontest.Options{LoggedInAs: "ali"})
	r := start(t, d, "chat", "bianca")
	r.waitFor(t, "Connection established, type your messages\n")
	d.PeerSays(t, "bye") // no newline: shown when the chat ends
	d.PeerEnds(t)
	if code := r.wait(t); code != 0 {
		t.Fatalf("exit %d", code)
	}
	want := "Connection established, type your messages\nbye\nConnection ended\n"
	if got := r.stdout.String(); got != want {
		t.Fatalf("stdout %q, want %q", got, want)
	}
}

func TestChatRefusals(t *testing.T) {
	d := daemontest.Start(t, daemontest.Options{LoggedInAs: "ali", Callees: map[string]control.Code{
		"dave": control.CodeBusy, "erin": control.CodeAway, "frank": control.CodePeerRefused,
	}})
	tests := []struct{ callee, want string }{
		{"carol", "carol is not logged in."},
		{"dave", "dave is busy in another chat"},
		{"erin", "erin is logged in but away"},
		{"frank", "refused"},
	}
	for _, tt := range tests {
		out, errOut, code := pipeRun(t, d, "", "chat", tt.callee)
		if code != 1 || out != "" || !strings.Contains(errOut, tt.want) {
			t.Errorf("chat %s: exit %d\nstdout %q\nstderr %q", tt.callee, code, out, errOut)
		}
	}
}

func TestChatNotLoggedIn(t *testing.T) {
	d := daemontest.Start(t, daemontest.Options{})
	_, errOut, code := pipeRun(t, d, "", "chat", "bianca")
	if code != 1 || !strings.Contains(errOut, "not logged in") {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
}

func TestWaitFromPipe(t *testing.T) {
	d := daemontest.Start(t, daemontest.Options{LoggedInAs: "ali"})
	r := start(t, d, "wait")
	d.WaitAttached(t)
	d.Incoming(t, "bianca")
	r.waitFor(t, "Connection received from user bianca, type your messages\n")
	d.PeerSays(t, "Hello, how are you today?\n")
	r.type_("I am fine, how about you?\n")
	if got := d.NextSent(t); got != "I am fine, how about you?\n" {
		t.Fatalf("sent %q", got)
	}
	d.PeerSays(t, "I am well. Goodbye.\n")
	r.waitFor(t, "I am well. Goodbye.\n")
	d.PeerEnds(t)
	if code := r.wait(t); code != 0 {
		t.Fatalf("exit %d", code)
	}
	want := "Connection received from user bianca, type your messages\n" +
		"Hello, how are you today?\nI am well. Goodbye.\nConnection ended\n"
	if got := r.stdout.String(); got != want {
		t.Fatalf("stdout %q, want %q", got, want)
	}
}

func TestInterruptEndsChat(t *testing.T) {
	d := daemontest.Start(t, daemontest.Options{LoggedInAs: "ali"})
	r := start(t, d, "chat", "bianca")
	r.waitFor(t, "Connection established, type your messages\n")
	r.interrupts <- os.Interrupt
	if got := d.NextSent(t); got != "<end>" {
		t.Fatalf("sent %q", got)
	}
	if code := r.wait(t); code != 0 {
		t.Fatalf("exit %d", code)
	}
	if !strings.HasSuffix(r.stdout.String(), "Connection ended\n") {
		t.Fatalf("stdout %q", r.stdout.String())
	}
}

func TestShellFromPipe(t *testing.T) {
	d := daemontest.Start(t, daemontest.Options{})
	r := start(t, d)
	r.type_("ali\n1234\nbianca\n")
	r.waitFor(t, "Connection established, type your messages\n")
	r.type_("Hello, how are you today?\n")
	d.NextSent(t)
	d.PeerSays(t, "I am fine, how about you?\n")
	r.waitFor(t, "I am fine, how about you?\n")
	d.PeerEnds(t)
	// Back at the destination prompt, a chat comes in.
	d.WaitAttached(t) // first attach, before the chat
	d.WaitAttached(t) // again after it
	d.Incoming(t, "bianca")
	r.waitFor(t, "Connection received from user bianca")
	d.PeerEnds(t)
	d.WaitAttached(t)
	r.closeStdin()
	if code := r.wait(t); code != 0 {
		t.Fatalf("exit %d, stderr %s", code, r.stderr.String())
	}
	want := "Login: ali\n" +
		"Enter passcode on keypad.\n" +
		"Logged in.\n" +
		"Enter destination user ID: bianca\n" +
		"Connection established, type your messages\n" +
		"I am fine, how about you?\n" +
		"Connection ended\n" +
		"Enter destination user ID: \n" +
		"Connection received from user bianca, type your messages\n" +
		"Connection ended\n" +
		"Enter destination user ID: \n"
	if got := r.stdout.String(); got != want {
		t.Fatalf("stdout:\n%s\nwant:\n%s", got, want)
	}
}

func TestShellStartsAtDestinationWhenLoggedIn(t *testing.T) {
	d := daemontest.Start(t, daemontest.Options{LoggedInAs: "ali"})
	out, errOut, code := pipeRun(t, d, "/status\ncarol\n", "--socket", d.Socket)
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
	d := daemontest.Start(t, daemontest.Options{LoggedInAs: "ali"})
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

func TestVerify(t *testing.T) {
	d := daemontest.Start(t, daemontest.Options{LoggedInAs: "ali", SafetyCode: "1234 5678 9012"})
	out, errOut, code := pipeRun(t, d, "", "verify", "bianca")
	if code != 0 || !strings.Contains(out, "Safety code: 1234 5678 9012 (compare it with bianca by voice)\n") ||
		!strings.Contains(out, "bianca's key: SHA256:theirs") {
		t.Fatalf("exit %d\nstdout %q\nstderr %q", code, out, errOut)
	}
	plain := daemontest.Start(t, daemontest.Options{LoggedInAs: "ali"})
	_, errOut, code = pipeRun(t, plain, "", "verify", "bianca")
	if code != 1 || !strings.Contains(errOut, "secure mode") {
		t.Fatalf("plain: exit %d, stderr %q", code, errOut)
	}
}

// TestVerifyAccept: --accept, after the user ID or before it, one-shot
// or in the shell, asks pi2pid to accept the key and says so.
func TestVerifyAccept(t *testing.T) {
	d := daemontest.Start(t, daemontest.Options{LoggedInAs: "ali", SafetyCode: "1234 5678 9012 3456 7890"})
	for _, args := range [][]string{{"verify", "bianca", "--accept"}, {"verify", "--accept", "bianca"}} {
		out, errOut, code := pipeRun(t, d, "", args...)
		if code != 0 || !strings.Contains(out, "Accepted SHA256:theirs as bianca's key.") {
			t.Fatalf("%q: exit %d\nstdout %q\nstderr %q", args, code, out, errOut)
		}
	}
	out, errOut, code := pipeRun(t, d, "/verify bianca --accept\n", "--socket", d.Socket)
	if code != 0 || !strings.Contains(out, "Accepted SHA256:theirs as bianca's key.") {
		t.Fatalf("shell: exit %d\nstdout %q\nstderr %q", code, out, errOut)
	}
	out, errOut, code = pipeRun(t, d, "", "verify", "bianca")
	if code != 0 || strings.Contains(out, "Accepted") {
		t.Fatalf("verify without --accept: exit %d\nstdout %q\nstderr %q", code, out, errOut)
	}
}

func TestLogout(t *testing.T) {
	d := daemontest.Start(t, daemontest.Options{LoggedInAs: "ali"})
	out, _, code := pipeRun(t, d, "", "logout")
	if code != 0 || out != "Logged out.\n" {
		t.Fatalf("exit %d, stdout %q", code, out)
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

func TestVersionMismatch(t *testing.T) {
	d := daemontest.Start(t, daemontest.Options{Version: control.Version + 1})
	_, errOut, code := pipeRun(t, d, "", "status")
	if code != 1 || !strings.Contains(errOut, "upgrade pi2pictl") {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
}

func TestExplain(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{fmt.Errorf("%w /x", control.ErrPermission), "add yourself to group pi2pi: sudo usermod -aG pi2pi $USER, then log in again"},
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
	c.mode.Store(completeNothing)
	if got := do("b"); got != "0:" {
		t.Errorf("completion during a chat: %q", got)
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
