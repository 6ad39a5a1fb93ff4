package cli

import "context"

var shellCmd = &Command{
	Name:    "shell",
	Summary: "the interactive shell (the default with no command)",
	Help: `Reproduces the terminal's transcript: "Login: ", "Enter passcode on
keypad.", "Logged in.", "Enter destination user ID: ". At that prompt an
incoming chat may arrive too. Commands are typed with a slash: /help.`,
	Run: func(ctx context.Context, inv *Invocation) error {
		return runEngine(ctx, inv, flowShell)
	},
}
