package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/coreos/go-systemd/v22/activation"
	"github.com/coreos/go-systemd/v22/daemon"

	"github.com/pi2pi/pi2pi/internal/journalslog"
	"github.com/pi2pi/pi2pi/internal/transport"
	"github.com/pi2pi/pi2pi/server/directory"
	"github.com/pi2pi/pi2pi/server/guard"
	"github.com/pi2pi/pi2pi/server/netserve"
	"github.com/pi2pi/pi2pi/server/sessions"
	"github.com/pi2pi/pi2pi/server/userstore"
)

// State files in --state-dir.
const (
	identityFile = "identity.key"
	sessionsFile = "sessions"
	countersFile = "failures"
)

// serveConfig is the parsed command line of `serve`.
type serveConfig struct {
	listen, users, stateDir string
	mode                    transport.Mode
	timeout                 time.Duration
	limits                  netserve.Limits
	verbose                 bool
}

// serveFlags defines serve's flags on fs, with defaults taken from getenv
// (os.Getenv in use; tests and `service install` pass their own).
func serveFlags(fs *flag.FlagSet, getenv func(string) string) (*serveConfig, *string, error) {
	def := func(name, v string) string {
		if e := getenv(name); e != "" {
			return e
		}
		return v
	}
	c := &serveConfig{limits: netserve.DefaultLimits}
	fs.StringVar(&c.listen, "listen", def("PI2PI_SERVER_LISTEN", defaultListen), "address to listen on")
	fs.StringVar(&c.users, "users", def("PI2PI_SERVER_USERS", defaultUsers), "users file")
	fs.StringVar(&c.stateDir, "state-dir", def("PI2PI_SERVER_STATE_DIR", defaultStateDir), "state directory (key, pepper, sessions, counters)")
	security := fs.String("security", def("PI2PI_SERVER_SECURITY", defaultSecurity), "plain or secure")
	timeoutDef, err := time.ParseDuration(def("PI2PI_SERVER_SESSION_TIMEOUT", "15m"))
	if err != nil {
		return nil, nil, usagef("PI2PI_SERVER_SESSION_TIMEOUT: %v", err)
	}
	fs.DurationVar(&c.timeout, "session-timeout", timeoutDef, "log a user out after this long without a request")
	fs.IntVar(&c.limits.MaxConns, "max-conns", c.limits.MaxConns, "open connections in total")
	fs.IntVar(&c.limits.MaxConnsPerIP, "max-conns-per-ip", c.limits.MaxConnsPerIP, "open connections from one address")
	fs.DurationVar(&c.limits.IdleTimeout, "idle-timeout", c.limits.IdleTimeout, "close a connection idle this long")
	fs.BoolVar(&c.verbose, "verbose", false, "log debug messages")
	return c, security, nil
}

// parseServe parses serve's arguments; fs is returned so that callers can
// tell which flags were given.
func parseServe(args []string, getenv func(string) string, stderr io.Writer) (*serveConfig, *flag.FlagSet, error) {
	fs := newFlagSet("serve", stderr)
	c, security, err := serveFlags(fs, getenv)
	if err != nil {
		return nil, nil, err
	}
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return nil, nil, err
	}
	if len(pos) > 0 {
		return nil, nil, usagef("serve takes no arguments (got %q)", pos[0])
	}
	if c.mode, err = transport.ParseMode(*security); err != nil {
		return nil, nil, usagef("--security: %v", err)
	}
	return c, fs, nil
}

func cmdServe(args []string, stderr io.Writer) error {
	c, _, err := parseServe(args, os.Getenv, stderr)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return serve(ctx, c, stderr, nil, nil)
}

// serve runs the directory until ctx ends, then writes its state and
// returns. Besides SIGHUP (on Unix), a value on reload re-reads the users
// file; ready, when set, is called once the server is listening. Both exist
// for the Windows service control manager.
func serve(ctx context.Context, c *serveConfig, stderr io.Writer, reload <-chan struct{}, ready func()) error {
	level := slog.LevelInfo
	if c.verbose {
		level = slog.LevelDebug
	}
	log := journalslog.New("pi2pi-server", stderr, level)
	// argon2 hashes are garbage after each login: a soft limit makes the
	// collector return their memory promptly under a login flood.
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(160 << 20)
	}
	if err := os.MkdirAll(c.stateDir, 0o700); err != nil {
		return fmt.Errorf("state directory: %w", err)
	}
	warnOpenFileLimit(log, c.limits.MaxConns, openFileLimit())
	pepper, err := userstore.LoadOrCreatePepper(c.stateDir)
	if err != nil {
		return err
	}
	tc := &transport.Config{Mode: c.mode}
	if c.mode == transport.Secure {
		id, err := transport.LoadOrCreateIdentity(filepath.Join(c.stateDir, identityFile))
		if err != nil {
			return err
		}
		tc.Identity = id
	} else {
		log.Warn("plain mode: logins, lookups and passcode hashes travel in clear text and peers are not authenticated; " +
			"use it only with course-style terminals on a trusted network")
	}
	users, err := userstore.Open(c.users)
	if err != nil {
		return err
	}
	if users.Len() == 0 {
		log.Warn("no users yet; add one with `pi2pi-server user add NAME`", "users", c.users)
	}
	g, err := guard.New(guard.Options{
		Policy: guard.DefaultPolicy,
		Path:   filepath.Join(c.stateDir, countersFile),
		Known:  func(n string) bool { _, ok := users.Lookup(n); return ok },
	})
	if err != nil {
		return err
	}
	defer g.Close()
	st, err := sessions.Open(sessions.Options{Path: filepath.Join(c.stateDir, sessionsFile), Timeout: c.timeout})
	if err != nil {
		return err
	}
	defer st.Close()
	st.Sweep()
	dir, err := directory.New(directory.Config{
		Users: users, Hasher: userstore.NewHasher(pepper, userstore.DefaultParams, userstore.MaxConcurrent()),
		Guard: g, Sessions: st, Log: log, Plain: c.mode == transport.Plain,
	})
	if err != nil {
		return err
	}
	// Loading a large state leaves garbage behind: give it back now.
	debug.FreeOSMemory()
	l, err := listener(c.listen)
	if err != nil {
		return err
	}
	doReload := func() {
		log.Info("reloading users file")
		_ = dir.Reload()
	}
	onReload(ctx, doReload)
	if reload != nil {
		go func() {
			for {
				select {
				case <-ctx.Done():
					return
				case <-reload:
					doReload()
				}
			}
		}()
	}
	sweep := max(min(c.timeout/4, time.Minute), time.Second)
	go dir.Sweep(ctx, sweep)

	attrs := []any{"addr", l.Addr().String(), "security", string(c.mode), "users", users.Len(), "sessions", st.Len()}
	if tc.Identity != nil {
		attrs = append(attrs, "fingerprint", transport.Fingerprint(tc.Identity.Public))
	}
	log.Info("listening", attrs...)
	_, _ = daemon.SdNotify(false, daemon.SdNotifyReady)
	if ready != nil {
		ready()
	}
	srv := &netserve.Server{Transport: tc, Handler: dir, Limits: c.limits, Log: log}
	err = srv.Serve(ctx, l)
	_, _ = daemon.SdNotify(false, daemon.SdNotifyStopping)
	log.Info("stopped")
	return err
}

// listener takes the socket from systemd when LISTEN_FDS is set, else opens
// addr.
func listener(addr string) (net.Listener, error) {
	if os.Getenv("LISTEN_FDS") != "" {
		ls, err := activation.Listeners()
		if err != nil {
			return nil, fmt.Errorf("systemd socket activation: %w", err)
		}
		for _, l := range ls {
			if l != nil {
				return l, nil
			}
		}
		return nil, fmt.Errorf("systemd socket activation: LISTEN_FDS is set but no listening socket was passed")
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("%w (is another server already running on %s? choose another with --listen)", err, addr)
	}
	return l, nil
}

// fileHeadroom is the number of open files the server needs besides its
// connections: listeners, state files, the log, the runtime's own.
const fileHeadroom = 64

// warnOpenFileLimit warns when the limit on open files (0: unknown) would
// refuse connections before --max-conns does.
func warnOpenFileLimit(log *slog.Logger, maxConns int, limit uint64) {
	if limit == 0 || maxConns <= 0 || limit >= uint64(maxConns+fileHeadroom) {
		return
	}
	log.Warn("the open-file limit is below --max-conns: connections will fail with \"too many open files\" first; "+
		"raise LimitNOFILE= in the unit (or ulimit -n), or lower --max-conns",
		"open_file_limit", limit, "max_conns", maxConns)
}
