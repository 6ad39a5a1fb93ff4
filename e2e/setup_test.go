package e2e

import (
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pi2pi/pi2pi/internal/control"
)

// stalledSetUp logs ali and bianca in (plain mode), stops bianca's pi2pid
// (SIGSTOP: its socket still takes the connection, no CONNECTREPLY comes)
// and starts `pi2pictl chat bianca` on ali's terminal; it returns once
// ali's pi2pid awaits the reply.
func stalledSetUp(t *testing.T) (srv *server, ali *terminal, chat *proc) {
	srv = startServer(t, "plain", []string{"ali", "bianca"})
	ali, bianca := startTerminal(t, srv), startTerminal(t, srv)
	ali.login("ali")
	bianca.login("bianca")
	if err := bianca.p.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = bianca.p.cmd.Process.Signal(syscall.SIGCONT) })
	chat = startProc(t, "pi2pictl chat bianca@"+ali.ip, true, ctlBin, "--socket", ali.sock, "chat", "bianca")
	ali.waitState(control.StateAwaitingReply)
	return srv, ali, chat
}

// serverLoggedOut waits until the server logs that user logged out.
func serverLoggedOut(t *testing.T, srv *server, user string) {
	t.Helper()
	err := srv.p.waitUntil(stepTimeout, "\"logged out\" line for "+user, func(out string) bool {
		for _, l := range strings.Split(out, "\n") {
			if strings.Contains(l, "logged out") && strings.Contains(l, "user="+user) {
				return true
			}
		}
		return false
	})
	if err != nil {
		t.Fatal(err)
	}
}

// `pi2pictl logout` while `pi2pictl chat bianca` is being set up: the
// set-up is abandoned (its pi2pictl says so), the logout succeeds, and
// pi2pid and the server agree that ali is logged out.
func TestLogoutDuringChatSetUp(t *testing.T) {
	srv, ali, chat := stalledSetUp(t)
	out, errOut, code := ali.ctl("", "logout")
	if code != 0 || out != "Logged out.\n" {
		t.Fatalf("logout: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if st := ali.status(); st.State != control.StateLoggedOut {
		t.Fatalf("pi2pid says %s after the logout", st.State)
	}
	serverLoggedOut(t, srv, "ali")
	if code, err := chat.wait(stepTimeout); err != nil || code != 1 {
		t.Fatalf("chat: exit %d (%v), output %q", code, err, chat.Output())
	}
	if s := chat.Stderr(); !strings.Contains(s, "abandoned: this terminal logged out") || strings.Contains(chat.Stdout(), "Connection established") {
		t.Fatalf("chat: stdout %q, stderr %q", chat.Stdout(), s)
	}
}

// SIGTERM while a chat is being set up logs out from the server, as
// when idle (README, systemd).
func TestShutdownDuringChatSetUpLogsOut(t *testing.T) {
	srv, ali, _ := stalledSetUp(t)
	start := time.Now()
	ali.p.stop()
	serverLoggedOut(t, srv, "ali")
	if strings.Contains(ali.p.Output(), "did not confirm the logout") {
		t.Fatalf("pi2pid: %s", tail(ali.p.Output(), 10))
	}
	t.Logf("stopped and logged out in %v", time.Since(start))
}
