package cli

import (
	"testing"

	"github.com/pi2pi/pi2pi/ctl/daemontest"
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
		d := daemontest.Start(t, daemontest.Options{FailedAttempts: tc.failed})
		out, errOut, code := pipeRun(t, d, tc.stdin, tc.args...)
		if code != 0 || out != tc.want {
			t.Errorf("%d failed, args %q: exit %d\nstdout %q\nwant   %q\nstderr %q", tc.failed, tc.args, code, out, tc.want, errOut)
		}
	}
}
