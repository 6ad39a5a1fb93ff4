package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
)

// Command is one entry of the table that serves both one-shot use and the
// shell (where it is typed as /NAME).
type Command struct {
	Name    string
	Args    string // e.g. "<USERID>" (required) or "[USERID]" (optional)
	Summary string
	Help    string // more, for --help
	// Shell means the command may also be typed in the shell as /NAME.
	Shell  bool
	Hidden bool
	// Aliases are other names for the command (/exit for /quit).
	Aliases []string
	// Slash, when set, runs /NAME in the shell instead of Run: for the
	// commands that act on the shell's transcript itself (/chat, /quit).
	Slash func(e *engine, args []string)
	Flags func(fs *flag.FlagSet, inv *Invocation)
	Run   func(ctx context.Context, inv *Invocation) error
}

// table lists the commands; each lives in its own file. It is filled in
// init because commands refer back to the table (help, the shell).
var table []*Command

func init() {
	table = []*Command{loginCmd, chatCmd, waitCmd, statusCmd, logoutCmd, verifyCmd, helpCmd, shellCmd, quitCmd}
}

func commands() []*Command { return table }

func lookup(name string) *Command {
	for _, c := range commands() {
		if c.Name == name {
			return c
		}
		for _, a := range c.Aliases {
			if a == name {
				return c
			}
		}
	}
	return nil
}

// argSpec splits Args into required and optional names.
func (c *Command) argSpec() (required, optional []string) {
	for _, f := range strings.Fields(c.Args) {
		switch {
		case strings.HasPrefix(f, "<"):
			required = append(required, f)
		case strings.HasPrefix(f, "["):
			optional = append(optional, f)
		}
	}
	return required, optional
}

// checkArgs names a missing argument or an extra one.
func (c *Command) checkArgs(args []string) error {
	required, optional := c.argSpec()
	if len(args) < len(required) {
		return usageErrorf("%s: missing %s (usage: pi2pictl %s %s)", c.Name, required[len(args)], c.Name, c.Args)
	}
	if max := len(required) + len(optional); len(args) > max {
		return usageErrorf("%s: unexpected argument %q (usage: pi2pictl %s)", c.Name, args[max], strings.TrimSpace(c.Name+" "+c.Args))
	}
	return nil
}

func (c *Command) printHelp(w io.Writer) {
	fmt.Fprintf(w, "Usage: pi2pictl [--socket PATH] %s\n\n%s\n", strings.TrimSpace(c.Name+" "+c.Args), c.Summary)
	if c.Help != "" {
		fmt.Fprintf(w, "\n%s\n", strings.TrimSpace(c.Help))
	}
	fs := flag.NewFlagSet(c.Name, flag.ContinueOnError)
	if c.Flags != nil {
		c.Flags(fs, &Invocation{})
	}
	fmt.Fprintf(w, "\nOptions:\n  --socket PATH   the pi2pid control socket (default $PI2PI_SOCKET or %s)\n", DefaultSocket)
	fs.VisitAll(func(f *flag.Flag) {
		fmt.Fprintf(w, "  --%-13s %s\n", f.Name, f.Usage)
	})
}
