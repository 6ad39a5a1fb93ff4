// Package cli implements pi2pictl: one command table that serves both
// one-shot use (`pi2pictl chat bianca`) and the interactive shell
// (`pi2pictl` with no arguments), over pi2pid's control socket.
//
// Exit codes: 0 ok, 1 refused or failed, 2 usage.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/pi2pi/pi2pi/ctl/screen"
	"github.com/pi2pi/pi2pi/internal/control"
)

// DefaultSocket is where pi2pid listens unless --socket or PI2PI_SOCKET
// says otherwise.
const DefaultSocket = "/run/pi2pid/control.sock"

// Env is the outside world of one run: swappable for tests.
type Env struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	Getenv         func(string) string
	// Interrupts delivers CTRL-C (SIGINT) and SIGTERM; nil means none.
	Interrupts <-chan os.Signal
	// Version is printed by --version.
	Version string
}

func (e *Env) getenv(k string) string {
	if e.Getenv == nil {
		return ""
	}
	return e.Getenv(k)
}

// stdinTTY returns stdin's descriptor when it is a terminal.
func (e *Env) stdinTTY() (*os.File, bool) {
	f, ok := e.Stdin.(*os.File)
	if !ok || !isTerminal(int(f.Fd())) {
		return nil, false
	}
	return f, true
}

// Invocation is one command being run, one-shot or in the shell.
type Invocation struct {
	Env    *Env
	Args   []string
	Socket string
	JSON   bool // status --json
	Accept bool // verify --accept

	Out    *screen.Screen
	client *control.Client
	shell  bool
}

// Client returns the connection to pi2pid, dialling it on first use.
func (inv *Invocation) Client(ctx context.Context) (*control.Client, error) {
	if inv.client != nil {
		return inv.client, nil
	}
	c, err := dial(ctx, inv.Socket)
	if err != nil {
		return nil, err
	}
	inv.client = c
	return c, nil
}

// Run runs pi2pictl with args (without the program name) and returns the
// exit code.
func Run(args []string, env *Env) int {
	inv := &Invocation{Env: env}
	global := flag.NewFlagSet("pi2pictl", flag.ContinueOnError)
	global.SetOutput(io.Discard)
	global.StringVar(&inv.Socket, "socket", "", "")
	help := global.Bool("help", false, "")
	global.BoolVar(help, "h", false, "")
	showVersion := global.Bool("version", false, "")
	if err := global.Parse(args); err != nil {
		return fail(env, usageErrorf("%v", err))
	}
	if *showVersion {
		fmt.Fprintln(env.Stdout, "pi2pictl", env.Version)
		return 0
	}
	if *help {
		printUsage(env.Stdout)
		return 0
	}
	rest := global.Args()
	name := "shell"
	if len(rest) > 0 {
		name, rest = rest[0], rest[1:]
	}
	cmd := lookup(name)
	if cmd == nil {
		return fail(env, usageErrorf("unknown command %q (try `pi2pictl help`)", name))
	}
	fs := flag.NewFlagSet(cmd.Name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&inv.Socket, "socket", inv.Socket, "")
	cmdHelp := fs.Bool("help", false, "")
	fs.BoolVar(cmdHelp, "h", false, "")
	if cmd.Flags != nil {
		cmd.Flags(fs, inv)
	}
	args, err := parseInterleaved(fs, rest)
	if err != nil {
		return fail(env, usageErrorf("%s: %v", cmd.Name, err))
	}
	if *cmdHelp {
		cmd.printHelp(env.Stdout)
		return 0
	}
	if err := cmd.checkArgs(args); err != nil {
		return fail(env, err)
	}
	inv.Args = args
	if inv.Socket == "" {
		inv.Socket = env.getenv("PI2PI_SOCKET")
	}
	if inv.Socket == "" {
		inv.Socket = DefaultSocket
	}
	inv.Out = screen.New(&screen.Plain{Stdout: env.Stdout, Stderr: env.Stderr})
	err = cmd.Run(context.Background(), inv)
	if inv.client != nil {
		inv.client.Close()
	}
	if err != nil && !errors.Is(err, errReported) {
		inv.Out.Errorln("pi2pictl: " + explain(err, inv.Socket)) // a sentence
	}
	inv.Out.Flush()
	if werr := inv.Out.Err(); werr != nil && err == nil {
		// What the command printed did not reach stdout: no success.
		inv.Out.Errorln("pi2pictl: " + stdoutFailedMsg("", werr))
		err = errReported
	}
	inv.Out.Close()
	return exitCode(err)
}

// parseInterleaved parses flags before and after the arguments
// (`pi2pictl verify bianca --accept`); "--" ends the flags.
func parseInterleaved(fs *flag.FlagSet, rest []string) ([]string, error) {
	var args []string
	for {
		before := rest
		if err := fs.Parse(rest); err != nil {
			return nil, err
		}
		rest = fs.Args()
		if used := len(before) - len(rest); used > 0 && before[used-1] == "--" {
			return append(args, rest...), nil
		}
		if len(rest) == 0 {
			return args, nil
		}
		args = append(args, rest[0])
		rest = rest[1:]
	}
}

// shellArgs parses a shell command's flags (`/verify bianca --accept`)
// into inv and returns its arguments.
func shellArgs(cmd *Command, inv *Invocation, fields []string) ([]string, error) {
	if cmd.Flags == nil {
		return fields, nil
	}
	fs := flag.NewFlagSet(cmd.Name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	cmd.Flags(fs, inv)
	args, err := parseInterleaved(fs, fields)
	if err != nil {
		return nil, usageErrorf("%s: %v", cmd.Name, err)
	}
	return args, nil
}

// fail reports err before any screen exists.
func fail(env *Env, err error) int {
	fmt.Fprintln(env.Stderr, "pi2pictl: "+sentence(err.Error()))
	return exitCode(err)
}

func printUsage(w io.Writer) {
	var b strings.Builder
	b.WriteString("Usage: pi2pictl [--socket PATH] [COMMAND [ARGS]]\n       pi2pictl --version\n\n")
	b.WriteString("With no command, pi2pictl opens an interactive shell:\n")
	b.WriteString("log in, then type a user ID to chat; CTRL-C ends a chat, CTRL-D leaves.\n\n")
	b.WriteString("Commands:\n")
	for _, c := range commands() {
		if c.Hidden {
			continue
		}
		fmt.Fprintf(&b, "  %-22s %s\n", strings.TrimSpace(c.Name+" "+c.Args), c.Summary)
	}
	b.WriteString("\nThe socket is --socket, else $PI2PI_SOCKET, else " + DefaultSocket + ".\n")
	b.WriteString("Run pi2pictl COMMAND --help for more. Exit codes: 0 ok, 1 refused or failed, 2 usage.\n")
	io.WriteString(w, b.String())
}

// callTimeout bounds a request that should be answered at once.
const callTimeout = 30 * time.Second
