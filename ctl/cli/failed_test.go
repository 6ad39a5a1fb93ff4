package cli

import (
	"strings"
	"testing"

	"github.com/pi2pi/pi2pi/daemon/backend/backendtest"
)

// Issue 11 item 4: after "Logged in.", pi2pictl says how many login
// attempts failed since the last login, in `pi2pictl login` and in the
// shell; nothing when there were none.
func TestFailedAttemptsShownAfterLogin(t *testing.T) {
	for _, tc := range []struct {
		failed int
		args   []string
		stdin  string
		want   string
	}{
		{3, []string{"login"}, "ali\n1234\n", "Login: ali\nEnter passcode on keypad.\nLogged in.\n" +
			"There were 3 failed login attempts since your last login.\n"},
		{1, []string{"login"}, "ali\n1234\n", "Login: ali\nEnter passcode on keypad.\nLogged in.\n" +
			"There was 1 failed login attempt since your last login.\n"},
		{0, []string{"login"}, "ali\n1234\n", "Login: ali\nEnter passcode on keypad.\nLogged in.\n"},
		{2, nil, "ali\n1234\n", "Login: ali\nEnter passcode on keypad.\nLogged in.\n" +
			"There were 2 failed login attempts since your last login.\nEnter destination user ID: \n"},
	} {
		d := daemon(t, backendtest.Options{})
		for range tc.failed { // someone tries ali's login with a wrong passcode
			_, errOut, code := pipeRun(t, d, "ali\n9999\n", "login")
			if code != 1 || !strings.Contains(errOut, "Login refused") {
				t.Fatalf("a wrong passcode: exit %d, stderr %q", code, errOut)
			}
		}
		out, errOut, code := pipeRun(t, d, tc.stdin, tc.args...)
		if code != 0 || out != tc.want {
			t.Errorf("%d failed, args %q: exit %d\nstdout %q\nwant   %q\nstderr %q", tc.failed, tc.args, code, out, tc.want, errOut)
		}
	}
}
