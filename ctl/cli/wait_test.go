package cli

import (
	"strings"
	"testing"

	"github.com/pi2pi/pi2pi/daemon/backend/backendtest"
)

// `pi2pictl wait` on a terminal that is not logged in refuses at once (no
// chat can reach it), saying to log in first, rather than wait for
// nothing; so does it while a login is still being typed. Its stdin stays
// open, as a person's would.
func TestWaitWhenNotLoggedIn(t *testing.T) {
	d := daemon(t, backendtest.Options{})
	check := func(when string) {
		t.Helper()
		r := start(t, d, "wait")
		code := r.wait(t)
		errOut := r.stderr.String()
		if code != 1 || r.stdout.String() != "" || !strings.HasPrefix(errOut, "pi2pictl: not logged in") ||
			!strings.Contains(errOut, "log in first with `pi2pictl login`") || strings.Count(errOut, "\n") != 1 {
			t.Fatalf("wait %s: exit %d, stdout %q, stderr %q", when, code, r.stdout.String(), errOut)
		}
	}
	check("logged out")

	login := start(t, d, "login", "ali")
	login.waitFor(t, "Enter passcode on keypad.")
	check("while the passcode is typed")
	login.closeStdin()
	login.wait(t)
}
