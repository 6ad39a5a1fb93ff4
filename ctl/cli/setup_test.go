package cli

import (
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pi2pi/pi2pi/daemon/backend/backendtest"
	"github.com/pi2pi/pi2pi/daemon/terminal"
	"github.com/pi2pi/pi2pi/internal/testbin"
)

// silentPeer stands in for bianca's terminal on tm's network: it takes
// the CONNECTREQ and never answers, as a stopped terminal would.
func silentPeer(t *testing.T, tm *backendtest.Terminal) {
	t.Helper()
	ip := backendtest.IPs[len(backendtest.IPs)-1]
	testbin.SilentPeer(t, net.JoinHostPort(ip, strconv.Itoa(tm.Net.Port)))
	tm.Net.Server.Login("bianca", ip, nil)
}

// waitState waits until tm's machine is in s.
func waitState(t *testing.T, tm *backendtest.Terminal, s terminal.State) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, _, _ := tm.Machine().State()
		if got == s {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("state %s, want %s", got, s)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// CTRL-C while `pi2pictl chat bianca` waits for a peer that does not
// answer abandons the request at once: no chat starts later (no ghost
// "Connection established" once a reply or the timeout comes).
func TestChatInterruptWhileConnecting(t *testing.T) {
	ali := logIn(t, daemon(t, backendtest.Options{}), "ali")
	silentPeer(t, ali)
	r := start(t, ali, "chat", "bianca")
	waitState(t, ali, terminal.AwaitingReply)
	r.interrupts <- os.Interrupt
	if code := r.wait(t); code != 1 {
		t.Fatalf("exit %d, want 1; stdout %q stderr %q", code, r.stdout.String(), r.stderr.String())
	}
	if out, errOut := r.stdout.String(), r.stderr.String(); strings.Contains(out, "Connection established") ||
		!strings.Contains(errOut, "chat request for bianca cancelled") {
		t.Fatalf("stdout %q stderr %q", out, errOut)
	}
	waitState(t, ali, terminal.LoggedIn)
}

// `pi2pictl chat bianca & pi2pictl logout`: the logout abandons the
// set-up and succeeds; the chat says why it ended, in words.
func TestLogoutWhileChatConnecting(t *testing.T) {
	ali := logIn(t, daemon(t, backendtest.Options{}), "ali")
	silentPeer(t, ali)
	r := start(t, ali, "chat", "bianca")
	r.closeStdin()
	waitState(t, ali, terminal.AwaitingReply)
	out, errOut, code := pipeRun(t, ali, "", "logout")
	if code != 0 || out != "Logged out.\n" {
		t.Fatalf("logout: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if code := r.wait(t); code != 1 {
		t.Fatalf("chat: exit %d, want 1; stdout %q stderr %q", code, r.stdout.String(), r.stderr.String())
	}
	if s := r.stderr.String(); s != "pi2pictl: the chat with bianca was abandoned: this terminal logged out.\n" {
		t.Fatalf("chat: stdout %q, stderr %q", r.stdout.String(), s)
	}
	if ali.Net.Server.LoggedIn("ali") {
		t.Fatal("the server still holds ali's login")
	}
}
