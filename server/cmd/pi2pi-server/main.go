// Command pi2pi-server is the pi2pi directory: it logs terminals in, tells
// them where their peers are, and manages its users. Subcommands: serve
// (the default), user, fingerprint, dummy (the course's test server),
// probe (a conformance checker for any directory server) and, on Windows,
// service (install and control it as a Windows service).
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

// Default paths suit a Linux install.
const (
	defaultListen   = ":8082"
	defaultUsers    = "/etc/pi2pi/users"
	defaultStateDir = "/var/lib/pi2pi-server"
	defaultSecurity = "secure"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// errUsage marks errors that exit with status 2.
var errUsage = errors.New("usage")

type usageError struct{ msg string }

func (e usageError) Error() string   { return e.msg }
func (e usageError) Is(t error) bool { return t == errUsage }

func usagef(format string, a ...any) error { return usageError{fmt.Sprintf(format, a...)} }

const usage = `usage: pi2pi-server [COMMAND] [FLAGS]

commands:
  serve        run the directory (default)
               --listen ADDR --users FILE --state-dir DIR --security plain|secure
               --session-timeout 15m --idle-timeout 1m0s --verbose (debug log)
               --max-conns 2048 (open connections in total)
               --max-conns-per-ip 64 (open connections from one address)
  user add NAME [--credential STRING] [--key STRING]
                                        enrol a user (passcode digits on stdin);
                                        --key: the key string plain-mode lookups hand out
  user passwd NAME [--key STRING]       change a passcode (also unlocks)
  user key NAME --key STRING|--no-key   set or remove a user's key string
  user import FILE|- [--skip-bad] [--replace]
                                        enrol a class's user file, a JSON object
                                        {"userid": ["credential", "key"], ...}
  user del NAME                         remove a user
  user list                             list users and their lock status
  user unlock NAME                      clear a user's failure counter
               (user commands take --users FILE --state-dir DIR)
  --version    print the version
  fingerprint  print the server key fingerprint (--state-dir DIR)
  dummy        run the course's test server (--listen ADDR), plain text
  probe ADDR   check a directory server [--user U --passcode DIGITS | --course]
               [--user U --credential STRING] [--lookup USER]
               [--security plain|secure] [--server-fingerprint SHA256:...]
               [--source IP] [--timeout 5s]
  service install --users FILE --state-dir DIR [serve flags]
  service uninstall | start | stop
               (Windows, elevated) run serve as the Windows service
               pi2pi-server, started at boot, logging to DIR\pi2pi-server.log

Environment: PI2PI_SERVER_LISTEN, PI2PI_SERVER_USERS, PI2PI_SERVER_STATE_DIR,
PI2PI_SERVER_SECURITY, PI2PI_SERVER_SESSION_TIMEOUT override the defaults.
`

func main() {
	if code, ok := runAsService(os.Args[1:]); ok {
		os.Exit(code)
	}
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(args []string, stdin *os.File, stdout, stderr io.Writer) int {
	if len(args) == 1 && (args[0] == "--version" || args[0] == "-version") {
		fmt.Fprintln(stdout, "pi2pi-server", version)
		return 0
	}
	cmd := "serve"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	var err error
	switch cmd {
	case "serve":
		err = cmdServe(args, stderr)
	case "user":
		err = cmdUser(args, stdin, stdout, stderr)
	case "fingerprint":
		err = cmdFingerprint(args, stdout, stderr)
	case "dummy":
		err = cmdDummy(args, stderr)
	case "probe":
		err = cmdProbe(args, stdout, stderr)
	case "service":
		err = cmdService(args, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		err = usagef("unknown command %q", cmd)
	}
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		fmt.Fprint(stdout, usage)
		return 0
	case errors.Is(err, errUsage):
		fmt.Fprintf(stderr, "pi2pi-server: %v\n\n%s", err, usage)
		return 2
	case errors.Is(err, errFailed):
		return 1
	default:
		fmt.Fprintf(stderr, "pi2pi-server: %v\n", err)
		return 1
	}
}

// errFailed exits 1 without another message (the command printed why).
var errFailed = errors.New("failed")

// env returns the environment override of a flag default.
func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// parseInterleaved parses flags that may come before or after positional
// arguments ("user add NAME --users FILE") and returns the positionals.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usageError{err.Error()}
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {} // run prints the one usage text
	return fs
}
