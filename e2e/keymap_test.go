package e2e

import (
	"strings"
	"testing"
)

// TestLoginWithEveryKeyMap logs in from pi2pictl with the console keypad
// under each built-in key map and two custom ones. pi2pictl sends the
// meanings (digits, enter, cancel); which key of a keypad means Enter is
// pi2pid's business alone (--keypad-map), so every map must work. A line
// that is not a passcode cancels the entry at once, whatever the map says
// Cancel is (or that there is none).
func TestLoginWithEveryKeyMap(t *testing.T) {
	maps := []string{
		"default",
		"legacy-hex",
		"enter=#,backspace=*,cancel=D",
		"enter=D,backspace=none,cancel=none",
	}
	srv := startServer(t, "plain", []string{"ali"})
	for _, m := range maps {
		t.Run(m, func(t *testing.T) {
			t.Parallel()
			ali := startTerminal(t, srv, withDaemonArgs("--keypad-map", m))
			out, errOut, code := ali.ctl("ali\n"+passcodes["ali"]+"\n", "login")
			if code != 0 || !strings.Contains(out, "Logged in.") {
				t.Fatalf("pi2pid --keypad-map %s; printf 'ali\\n%s\\n' | pi2pictl login: exit %d\n%s%s",
					m, passcodes["ali"], code, out, errOut)
			}
			ali.logout()

			out, errOut, code = ali.ctl("ali\n12x4\n", "login")
			if code != 1 || !strings.Contains(errOut, "digits") {
				t.Errorf("pi2pid --keypad-map %s; printf 'ali\\n12x4\\n' | pi2pictl login: want exit 1 naming digits, got exit %d\n%s%s",
					m, code, out, errOut)
			}
			ali.waitState("logged-out")

			out, errOut, code = ali.ctl("ali\n9999\n", "login")
			if code != 1 || !strings.Contains(errOut, "Login refused") {
				t.Errorf("pi2pid --keypad-map %s; a wrong passcode: want exit 1 and Login refused, got exit %d\n%s%s",
					m, code, out, errOut)
			}
		})
	}
}
