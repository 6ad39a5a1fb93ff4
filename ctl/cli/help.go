package cli

import (
	"context"
	"fmt"
	"strings"
)

var helpCmd = &Command{
	Name:    "help",
	Args:    "[COMMAND]",
	Summary: "show the commands, or one command's help",
	Shell:   true,
	Run: func(ctx context.Context, inv *Invocation) error {
		if len(inv.Args) == 1 {
			c := lookup(inv.Args[0])
			if c == nil {
				return usageErrorf("help: unknown command %q", inv.Args[0])
			}
			c.printHelp(inv.Out.Stdout())
			return nil
		}
		if !inv.shell {
			printUsage(inv.Out.Stdout())
			return nil
		}
		inv.Out.Println("At \"Enter destination user ID:\" type a user ID to chat with, or a command:")
		for _, c := range commands() {
			if c.Shell {
				inv.Out.Println(fmt.Sprintf("  /%-20s %s", strings.TrimSpace(c.Name+" "+c.Args), c.Summary))
			}
		}
		inv.Out.Println("In a chat, CTRL-C ends the chat. At a prompt, CTRL-C clears the line.")
		return nil
	},
}
