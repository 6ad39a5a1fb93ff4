package main

import (
	"context"
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

func cmdServe(args []string, stderr io.Writer) error {
	fs := newFlagSet("serve", stderr)
	listen := fs.String("listen", env("PI2PI_SERVER_LISTEN", defaultListen), "address to listen on")
	usersPath := fs.String("users", env("PI2PI_SERVER_USERS", defaultUsers), "users file")
	stateDir := fs.String("state-dir", env("PI2PI_SERVER_STATE_DIR", defaultStateDir), "state directory (key, pepper, sessions, counters)")
	security := fs.String("security", env("PI2PI_SERVER_SECURITY", defaultSecurity), "plain or secure")
	timeoutDef, err := time.ParseDuration(env("PI2PI_SERVER_SESSION_TIMEOUT", "15m"))
	if err != nil {
		return usagef("PI2PI_SERVER_SESSION_TIMEOUT: %v", err)
	}
	timeout := fs.Duration("session-timeout", timeoutDef, "log a user out after this long without a request")
	lim := netserve.DefaultLimits
	fs.IntVar(&lim.MaxConns, "max-conns", lim.MaxConns, "open connections in total")
	fs.IntVar(&lim.MaxConnsPerIP, "max-conns-per-ip", lim.MaxConnsPerIP, "open connections from one address")
	fs.DurationVar(&lim.IdleTimeout, "idle-timeout", lim.IdleTimeout, "close a connection idle this long")
	verbose := fs.Bool("verbose", false, "log debug messages")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("serve takes no arguments (got %q)", pos[0])
	}
	mode, err := transport.ParseMode(*security)
	if err != nil {
		return usagef("--security: %v", err)
	}
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	log := journalslog.New("pi2pi-server", stderr, level)

	// argon2 hashes are garbage after each login: a soft limit makes the
	// collector return their memory promptly under a login flood.
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(160 << 20)
	}
	if err := os.MkdirAll(*stateDir, 0o700); err != nil {
		return fmt.Errorf("state directory: %w", err)
	}
	pepper, err := userstore.LoadOrCreatePepper(*stateDir)
	if err != nil {
		return err
	}
	tc := &transport.Config{Mode: mode}
	if mode == transport.Secure {
		id, err := transport.LoadOrCreateIdentity(filepath.Join(*stateDir, identityFile))
		if err != nil {
			return err
		}
		tc.Identity = id
	} else {
		log.Warn("plain mode: logins, lookups and passcode hashes travel in clear text and peers are not authenticated; " +
			"use it only with course-style terminals on a trusted network")
	}
	users, err := userstore.Open(*usersPath)
	if err != nil {
		return err
	}
	if users.Len() == 0 {
		log.Warn("no users yet; add one with `pi2pi-server user add NAME`", "users", *usersPath)
	}
	g, err := guard.New(guard.Options{
		Policy: guard.DefaultPolicy,
		Path:   filepath.Join(*stateDir, countersFile),
		Known:  func(n string) bool { _, ok := users.Lookup(n); return ok },
	})
	if err != nil {
		return err
	}
	defer g.Close()
	st, err := sessions.Open(sessions.Options{Path: filepath.Join(*stateDir, sessionsFile), Timeout: *timeout})
	if err != nil {
		return err
	}
	defer st.Close()
	st.Sweep()
	dir, err := directory.New(directory.Config{
		Users: users, Hasher: userstore.NewHasher(pepper, userstore.DefaultParams, userstore.MaxConcurrent()),
		Guard: g, Sessions: st, Log: log,
	})
	if err != nil {
		return err
	}
	// Loading a large state leaves garbage behind: give it back now.
	debug.FreeOSMemory()
	l, err := listener(*listen)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	onReload(ctx, func() {
		log.Info("reloading users file")
		_ = dir.Reload()
	})
	sweep := max(min(*timeout/4, time.Minute), time.Second)
	go dir.Sweep(ctx, sweep)

	attrs := []any{"addr", l.Addr().String(), "security", string(mode), "users", users.Len(), "sessions", st.Len()}
	if tc.Identity != nil {
		attrs = append(attrs, "fingerprint", transport.Fingerprint(tc.Identity.Public))
	}
	log.Info("listening", attrs...)
	_, _ = daemon.SdNotify(false, daemon.SdNotifyReady)
	srv := &netserve.Server{Transport: tc, Handler: dir, Limits: lim, Log: log}
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
