package cli

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"

	"github.com/pi2pi/pi2pi/internal/control"
)

var statusCmd = &Command{
	Name:    "status",
	Summary: "show the terminal's state, user, server and key fingerprints",
	Help:    "With --json, print the daemon's status as one JSON object (for scripts).",
	Shell:   true,
	Flags: func(fs *flag.FlagSet, inv *Invocation) {
		fs.BoolVar(&inv.JSON, "json", false, "print JSON for scripts")
	},
	Run: runStatus,
}

func runStatus(ctx context.Context, inv *Invocation) error {
	c, err := inv.Client(ctx)
	if err != nil {
		return err
	}
	rep, err := c.Call(ctx, control.Request{Op: control.OpStatus})
	if err != nil {
		return err
	}
	st := rep.Status
	if st == nil {
		return fmt.Errorf("pi2pid sent no status")
	}
	if inv.JSON {
		b, _ := json.Marshal(st)
		inv.Out.Println(string(b))
		return nil
	}
	row := func(k, v string) {
		if v != "" {
			inv.Out.Println(fmt.Sprintf("%-19s %s", k+":", v))
		}
	}
	row("State", string(st.State))
	row("User", st.UserID)
	row("Peer", st.Peer)
	row("Server", st.Server)
	row("Security", st.Security)
	row("Keypad", string(st.Keypad))
	row("Listening on", st.Listen)
	row("Our key", st.Fingerprint)
	row("Server key", st.ServerFingerprint)
	row("Peer key", st.PeerFingerprint)
	row("Safety code", st.SafetyCode)
	if w := tofuWarning(st); w != "" {
		inv.Out.Errorln(w)
	}
	return nil
}

// tofuWarning says plainly what trust on first use of the server key
// means, while the key is not configured.
func tofuWarning(st *control.Status) string {
	if st.Security != "secure" || st.ServerPin != "first-use" {
		return ""
	}
	how := "Pin it: run `pi2pi-server fingerprint` on the server, set server-fingerprint=SHA256:... in /etc/pi2pi/pi2pid.conf and restart pi2pid."
	if st.ServerFingerprint == "" {
		return "Warning: the server's key is not pinned yet. The first login will trust whatever key answers, so someone on the network path could pose as the server and learn the passcode. " + how
	}
	return "Warning: the server's key was pinned on first use, not configured. If someone on the network path posed as the server at that first login, they learned the passcode, and pi2pid trusts them still. " + how
}

// loggedIn reports whether st is a logged-in state (idle or chatting).
func loggedIn(st *control.Status) bool {
	if st == nil || st.UserID == "" {
		return false
	}
	switch st.State {
	case control.StateLoggedOut, control.StateReadingPasscode, control.StateAuthenticating, control.StateLoggingOut:
		return false
	}
	return true
}
