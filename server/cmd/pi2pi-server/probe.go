package main

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"time"

	"github.com/pi2pi/pi2pi/internal/transport"
	"github.com/pi2pi/pi2pi/server/probe"
)

func cmdProbe(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("probe", stderr)
	var cfg probe.Config
	fs.StringVar(&cfg.User, "user", "", "user to log in as: a dedicated probe account (default: no login)")
	fs.BoolVar(&cfg.Course, "course", false, "the server is the course's test server: log in as its ali")
	fs.StringVar(&cfg.Passcode, "passcode", "", "that user's keypad digits")
	fs.StringVar(&cfg.Credential, "credential", "", "send this exact AUTHREQ passcode instead of the pi2pi hash of --passcode")
	fs.StringVar(&cfg.Lookup, "lookup", "", "user whose lookup must succeed (default: bianca, or --user itself)")
	security := fs.String("security", env("PI2PI_SECURITY", defaultSecurity), "plain or secure")
	fs.StringVar(&cfg.Fingerprint, "server-fingerprint", "", "expected server key (SHA256:...); default: trust the first key seen")
	source := fs.String("source", "", "source IP for the probe's connections")
	fs.DurationVar(&cfg.Timeout, "timeout", 5*time.Second, "time limit of each exchange")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("probe needs one HOST:PORT")
	}
	cfg.Addr = pos[0]
	if cfg.Mode, err = transport.ParseMode(*security); err != nil {
		return usagef("--security: %v", err)
	}
	if *source != "" {
		if cfg.LocalIP, err = netip.ParseAddr(*source); err != nil {
			return usagef("--source: %v", err)
		}
	}
	if (cfg.User == "") != (cfg.Passcode == "" && cfg.Credential == "") && !cfg.Course {
		return usagef("--user and --passcode (or --credential) go together")
	}
	cfg.Out = stdout
	res, err := probe.Run(context.Background(), cfg)
	if err != nil {
		return usagef("%v", err)
	}
	fmt.Fprintf(stdout, "probe: %d passed, %d failed, %d skipped\n", res.Passed, res.Failed, res.Skipped)
	if res.Failed > 0 {
		return errFailed
	}
	return nil
}
