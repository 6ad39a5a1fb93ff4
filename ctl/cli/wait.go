package cli

import "context"

var waitCmd = &Command{
	Name:    "wait",
	Summary: "wait for an incoming chat, then chat as with chat",
	Help: `Prints "Connection received from user ali, type your messages" when a
chat arrives, then behaves like chat. The terminal must be logged in:
otherwise wait refuses at once (exit 1); log in first with pi2pictl login.`,
	Run: func(ctx context.Context, inv *Invocation) error {
		return runEngine(ctx, inv, flowWait)
	},
}
