package main

import (
	"context"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/pi2pi/pi2pi/internal/journalslog"
	"github.com/pi2pi/pi2pi/internal/transport"
	"github.com/pi2pi/pi2pi/server/dummy"
	"github.com/pi2pi/pi2pi/server/netserve"
)

func cmdDummy(args []string, stderr io.Writer) error {
	fs := newFlagSet("dummy", stderr)
	listen := fs.String("listen", env("PI2PI_SERVER_LISTEN", defaultListen), "address to listen on")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("dummy takes no arguments")
	}
	log := journalslog.New("pi2pi-server", stderr, slog.LevelInfo)
	l, err := listener(*listen)
	if err != nil {
		return err
	}
	log.Warn("dummy course test server: plain text, fixed answers (ali is granted; ali may look up bianca)")
	log.Info("listening", "addr", l.Addr().String(), "security", "plain")
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	srv := &netserve.Server{Transport: &transport.Config{Mode: transport.Plain}, Handler: dummy.Handler,
		Limits: netserve.DefaultLimits, Log: log}
	return srv.Serve(ctx, l)
}
