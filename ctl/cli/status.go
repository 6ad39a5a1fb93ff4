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
	return nil
}

// loggedIn reports whether st is a logged-in state (idle or chatting).
func loggedIn(st *control.Status) bool {
	if st == nil || st.UserID == "" {
		return false
	}
	switch st.State {
	case control.StateLoggedOut, control.StateReadingPasscode, control.StateAuthenticating:
		return false
	}
	return true
}
