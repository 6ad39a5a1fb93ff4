package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// serviceCommand is a parsed `pi2pi-server service ACTION` command line.
type serviceCommand struct {
	action string // install, uninstall, start or stop
	// args is the command line the service is started with (install
	// only): "serve" and every setting that differs from the built-in
	// default, paths made absolute.
	args []string
}

// parseService parses the arguments after `service`. getenv and abs are
// os.Getenv and filepath.Abs except in tests.
func parseService(args []string, getenv func(string) string, abs func(string) (string, error), stderr io.Writer) (serviceCommand, error) {
	if len(args) == 0 {
		return serviceCommand{}, usagef("service needs an action: install, uninstall, start or stop")
	}
	c := serviceCommand{action: args[0]}
	rest := args[1:]
	switch c.action {
	case "install":
		if len(rest) > 0 && rest[0] == "serve" {
			rest = rest[1:]
		}
		var err error
		c.args, err = serviceArgs(rest, getenv, abs, stderr)
		return c, err
	case "uninstall", "start", "stop":
		if len(rest) > 0 {
			return serviceCommand{}, usagef("service %s takes no arguments (got %q)", c.action, rest[0])
		}
		return c, nil
	default:
		return serviceCommand{}, usagef("unknown service action %q (want install, uninstall, start or stop)", c.action)
	}
}

// serviceArgs checks serve's flags now, so that a mistake shows at install
// rather than as a service that will not start, and returns the command
// line to store in the service. A service sees neither the installing
// user's environment nor their working directory, so the environment's
// overrides become flags and relative paths become absolute.
func serviceArgs(args []string, getenv func(string) string, abs func(string) (string, error), stderr io.Writer) ([]string, error) {
	_, fs, err := parseServe(args, getenv, stderr)
	if err != nil {
		return nil, err
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	if !given["users"] && getenv("PI2PI_SERVER_USERS") == "" ||
		!given["state-dir"] && getenv("PI2PI_SERVER_STATE_DIR") == "" {
		return nil, usagef(`service install needs --users FILE and --state-dir DIR ` +
			`(the defaults are Linux paths), e.g. --users C:\pi2pi\users --state-dir C:\pi2pi\state`)
	}
	builtin := newFlagSet("serve", io.Discard)
	if _, _, err := serveFlags(builtin, func(string) string { return "" }); err != nil {
		return nil, err
	}
	out := []string{"serve"}
	var absErr error
	fs.VisitAll(func(f *flag.Flag) {
		v := f.Value.String()
		switch f.Name {
		case "users", "state-dir":
			p, err := abs(v)
			if err != nil && absErr == nil {
				absErr = fmt.Errorf("--%s %s: %w", f.Name, v, err)
			}
			v = p
		default:
			if v == builtin.Lookup(f.Name).DefValue {
				return
			}
		}
		out = append(out, "--"+f.Name+"="+v)
	})
	return out, absErr
}

func cmdService(args []string, stdout, stderr io.Writer) error {
	c, err := parseService(args, os.Getenv, filepath.Abs, stderr)
	if err != nil {
		return err
	}
	return controlService(c, stdout)
}
