package e2e

import (
	"strings"
	"syscall"
	"testing"

	"github.com/pi2pi/pi2pi/internal/control"
)

// `pi2pictl logout` while the server is stalled (SIGSTOP: its socket still
// takes the connection, nothing answers). pi2pid logs out here all the
// same, since the user asked, but does not pretend the server heard of it:
// its log warns and names the move "server did not confirm the logout",
// and pi2pictl says on stderr that the server may keep the login until its
// session timeout, with exit code 0 (README). Once the server is back, the
// terminal logs in again as usual.
func TestLogoutServerStalled(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			srv := startServer(t, mode, []string{"ali"})
			ali := startTerminal(t, srv, withDaemonArgs("--timeout", "2s"))
			ali.login("ali")
			if err := srv.p.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
				t.Fatal(err)
			}
			stopped := true
			resume := func() {
				if stopped {
					_ = srv.p.cmd.Process.Signal(syscall.SIGCONT)
					stopped = false
				}
			}
			t.Cleanup(resume)

			out, errOut, code := ali.ctl("", "logout")
			if code != 0 || out != "" {
				t.Fatalf("logout: exit %d, stdout %q, stderr %q; want exit 0 and the news on stderr", code, out, errOut)
			}
			for _, want := range []string{"Logged out here, but the server did not confirm the logout (",
				"the server at " + srv.addr, "session timeout", "15 minutes"} {
				if !strings.Contains(errOut, want) {
					t.Errorf("logout's stderr %q does not say %q", errOut, want)
				}
			}
			if !strings.HasSuffix(errOut, ".\n") || strings.Count(errOut, "\n") != 1 {
				t.Errorf("logout's stderr %q: want one sentence, ending in a period", errOut)
			}
			if st := ali.status(); st.State != control.StateLoggedOut {
				t.Fatalf("pi2pid says %s after the logout", st.State)
			}
			// The log reaches the test through a pipe: wait for it.
			if err := ali.p.waitUntil(stepTimeout, "the warning and the move", func(log string) bool {
				return hasLogLine(log, "level=WARN", "did not confirm the logout", "USERID=ali") &&
					hasLogLine(log, "logging-out -> logged-out", "server did not confirm the logout")
			}); err != nil {
				t.Errorf("pi2pid's log does not tell the logout as it was: %v\n%s", err, tail(ali.p.Output(), 10))
			}
			if log := ali.p.Output(); strings.Contains(log, "server told of the logout") {
				t.Errorf("pi2pid says the server was told:\n%s", tail(log, 10))
			}

			resume()
			ali.login("ali")
			ali.logout()
			if err := ali.p.waitFor("server told of the logout", stepTimeout); err != nil {
				t.Errorf("the second logout was not confirmed by the server: %v", err)
			}
		})
	}
}

// hasLogLine reports whether one line of log holds every part.
func hasLogLine(log string, parts ...string) bool {
	for _, l := range strings.Split(log, "\n") {
		ok := true
		for _, p := range parts {
			ok = ok && strings.Contains(l, p)
		}
		if ok {
			return true
		}
	}
	return false
}

// SIGTERM to one's own pi2pid while `pi2pictl chat bianca` is setting the
// chat up: pi2pictl says that the chat was not set up because pi2pid was
// stopped, and how to start it again, not only "pi2pid is stopping".
func TestShutdownDuringChatSetUpTellsTheCaller(t *testing.T) {
	_, ali, chat := stalledSetUp(t)
	ali.p.stop()
	code, err := chat.wait(stepTimeout)
	if err != nil || code != 1 {
		t.Fatalf("chat: exit %d (%v), output %q", code, err, chat.Output())
	}
	errOut := chat.Stderr()
	for _, want := range []string{"pi2pictl: the chat with bianca was not set up: pi2pid was stopped",
		"start it again with `sudo systemctl start pi2pid`"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("chat's stderr %q does not say %q", errOut, want)
		}
	}
	if strings.Count(errOut, "\n") != 1 || strings.Contains(chat.Stdout(), "Connection established") {
		t.Errorf("chat: stdout %q, stderr %q; want one line on stderr and no chat", chat.Stdout(), errOut)
	}
}
