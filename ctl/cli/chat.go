package cli

import "context"

var chatCmd = &Command{
	Name:    "chat",
	Args:    "<USERID>",
	Summary: "chat with a user: send stdin's lines, print what arrives",
	Help: `Prints "Connection established, type your messages", then the lines
received, then "Connection ended". CTRL-C, or the end of stdin once all of
it was sent, ends the chat.`,
	Shell: true,
	Slash: (*engine).slashChat,
	Run: func(ctx context.Context, inv *Invocation) error {
		return runEngine(ctx, inv, flowChat)
	},
}
