// Command pi2pictl is the user's side of a pi2pi terminal: a readline
// shell and one-shot commands that attach to pi2pid over its control
// socket to log in and chat. See ctl/cli for the commands.
package main

import (
	"os"
	"os/signal"
	"syscall"

	"github.com/pi2pi/pi2pi/ctl/cli"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	interrupts := make(chan os.Signal, 1)
	signal.Notify(interrupts, os.Interrupt, syscall.SIGTERM)
	os.Exit(cli.Run(os.Args[1:], &cli.Env{
		Stdin:      os.Stdin,
		Stdout:     os.Stdout,
		Stderr:     os.Stderr,
		Getenv:     os.Getenv,
		Interrupts: interrupts,
		Version:    version,
	}))
}
