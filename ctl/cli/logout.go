package cli

import (
	"context"

	"github.com/pi2pi/pi2pi/internal/control"
)

var logoutCmd = &Command{
	Name:    "logout",
	Summary: "log the terminal out (ends a chat in progress)",
	Shell:   true,
	Run: func(ctx context.Context, inv *Invocation) error {
		c, err := inv.Client(ctx)
		if err != nil {
			return err
		}
		if _, err := c.Call(ctx, control.Request{Op: control.OpLogout}); err != nil {
			return err
		}
		inv.Out.Println("Logged out.")
		return nil
	},
}
