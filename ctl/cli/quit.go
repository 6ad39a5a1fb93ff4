package cli

import "context"

// quitCmd is /quit (or /exit) in the shell; it has no one-shot use.
var quitCmd = &Command{
	Name:    "quit",
	Aliases: []string{"exit"},
	Summary: "leave the shell (pi2pid stays logged in; so does CTRL-D)",
	Help:    "Only in the shell, typed as /quit or /exit.",
	Shell:   true,
	Hidden:  true,
	Run: func(ctx context.Context, inv *Invocation) error {
		return usageErrorf("quit works only in the interactive shell, typed there as /quit or /exit")
	},
	Slash: func(e *engine, _ []string) { e.finish(nil) },
}
