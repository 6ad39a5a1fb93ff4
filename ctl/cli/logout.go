package cli

import (
	"context"

	"github.com/pi2pi/pi2pi/internal/control"
)

var logoutCmd = &Command{
	Name:    "logout",
	Summary: "log the terminal out (ends a chat in progress)",
	Help: `Prints "Logged out.". When the server does not confirm the logout (it
does not answer in time, or fails), the terminal is logged out all the
same and the exit code is 0, but pi2pictl says so on stderr instead: the
server may keep the login until its session timeout (pi2pi-server:
15 minutes without a request, by default).`,
	Shell: true,
	Run: func(ctx context.Context, inv *Invocation) error {
		c, err := inv.Client(ctx)
		if err != nil {
			return err
		}
		rep, err := c.Call(ctx, control.Request{Op: control.OpLogout})
		if err != nil {
			return err
		}
		if rep.Warning == control.CodeLogoutUnconfirmed {
			// Logged out here all the same: exit 0 (README).
			inv.Out.Errorln(describe(&control.Error{Code: rep.Warning, Detail: rep.WarningDetail}, ""))
			return nil
		}
		inv.Out.Println("Logged out.")
		return nil
	},
}
