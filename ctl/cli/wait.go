package cli

import "context"

var waitCmd = &Command{
	Name:    "wait",
	Summary: "wait for an incoming chat, then chat as with chat",
	Help: `Prints "Connection received from user ali, type your messages" when a
chat arrives, then behaves like chat.`,
	Run: func(ctx context.Context, inv *Invocation) error {
		return runEngine(ctx, inv, flowWait)
	},
}
