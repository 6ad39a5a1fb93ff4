// Command pi2pid is the pi2pi terminal daemon. It owns the keypad, the peer
// port 8085, the control socket used by pi2pictl and the terminal's state
// machine; see the README, "pi2pid, the terminal daemon".
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/pi2pi/pi2pi/daemon/backend"
	"github.com/pi2pi/pi2pi/daemon/config"
	"github.com/pi2pi/pi2pi/daemon/controlsock"
	"github.com/pi2pi/pi2pi/daemon/directory"
	"github.com/pi2pi/pi2pi/daemon/notify"
	"github.com/pi2pi/pi2pi/daemon/sockets"
	"github.com/pi2pi/pi2pi/daemon/statedir"
	"github.com/pi2pi/pi2pi/internal/control"
	"github.com/pi2pi/pi2pi/internal/journalslog"
	"github.com/pi2pi/pi2pi/internal/transport"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	oneProc(os.Getenv)
	os.Exit(run(os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

func run(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if len(args) == 1 && (args[0] == "--version" || args[0] == "-version") {
		fmt.Fprintln(stdout, "pi2pid", version)
		return 0
	}
	cfg, err := config.Load(args, getenv)
	if errors.Is(err, config.ErrHelp) {
		config.Usage(stdout)
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "pi2pid: %v\n(run pi2pid --help for the flags)\n", err)
		answerConfigError(configErrorDetail(err, configFile(args, getenv)))
		return 2
	}
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	log := journalslog.New("pi2pid", stderr, level)
	slog.SetDefault(log)
	if err := serve(cfg, log); err != nil {
		log.Error(err.Error())
		fmt.Fprintf(stderr, "pi2pid: %v\n", err)
		return 1
	}
	return 0
}

func serve(cfg *config.Config, log *slog.Logger) error {
	if tightened, err := statedir.Prepare(cfg.StateDir); err != nil {
		return err
	} else if tightened {
		log.Warn("the state directory was open to others; its mode is now 0700", "path", cfg.StateDir)
	}
	notes, err := statedir.CheckFiles(cfg.StateDir)
	if err != nil {
		return err
	}
	for _, n := range notes {
		log.Warn(n)
	}
	tcfg := &transport.Config{Mode: cfg.Security}
	var verifyServer transport.VerifyFunc
	kh := &transport.KnownHosts{Path: filepath.Join(cfg.StateDir, "known_hosts")}
	if cfg.Security == transport.Secure {
		id, err := transport.LoadOrCreateIdentity(filepath.Join(cfg.StateDir, "identity.key"))
		if err != nil {
			return err
		}
		tcfg.Identity = id
		verifyServer = kh.Verify(cfg.Server, cfg.ServerFingerprint)
		log.Info("secure mode", "fingerprint", transport.Fingerprint(id.Public))
	} else {
		log.Warn("plain mode: passcode hashes, lookups and chats cross the network in clear text and peers are not authenticated; use it only with course-style peers on a trusted network")
	}

	ls, err := sockets.Open(cfg.Listen, cfg.Control, log)
	if err != nil {
		return err
	}
	defer ls.Close()
	tcfg.LocalIP = cfg.ListenIP
	if ip := transport.AddrIP(ls.Peer.Addr()); ip.IsValid() && !ip.IsUnspecified() {
		tcfg.LocalIP = ip
	}

	kp, err := openKeypad(cfg)
	if err != nil {
		return err
	}

	dir := &directory.Client{Addr: cfg.Server, Transport: tcfg, Verify: verifyServer, Timeout: cfg.Timeout}
	listen := ls.Peer.Addr().String()
	term := backend.New(backend.Options{
		Directory: dir,
		Transport: tcfg,
		Keypad:    kp,
		PeerPort:  peerPort(ls.Peer.Addr(), cfg.PeerPort),
		Keepalive: cfg.Keepalive,
		Timeout:   cfg.Timeout,
		PeersFile: filepath.Join(cfg.StateDir, "peers"),
		Log:       log,
		Status:    notify.Status,
		Info: control.Status{
			Server: cfg.Server, Security: string(cfg.Security), Keypad: kp.Kind(), Listen: listen,
			ServerPin: serverPin(cfg.ServerFingerprint),
		},
		ServerPin: func() string {
			if cfg.ServerFingerprint != "" {
				return cfg.ServerFingerprint
			}
			fp, _ := kh.Lookup(cfg.Server)
			return fp
		},
	})
	ctl := &controlsock.Server{Handler: term, Daemon: "pi2pid " + version, Log: log}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	errc := make(chan error, 2)
	go func() { errc <- fmt.Errorf("peer listener: %w", term.ServePeers(ls.Peer)) }()
	go func() { errc <- fmt.Errorf("control socket: %w", ctl.Serve(ls.Control)) }()
	go notify.Watchdog(ctx)

	log.Info("ready", "listen", listen, "control", ls.Control.Addr().String(), "server", cfg.Server,
		"security", string(cfg.Security), "keypad", kp.Kind(), "from_systemd", strings.Join(ls.FromSystemd, ","))
	notify.Ready("Logged out")

	var runErr error
	select {
	case <-ctx.Done():
		log.Info("stopping")
	case runErr = <-errc:
	}
	notify.Stopping()
	ls.Close()
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	term.Shutdown(sctx)
	_ = dir.Close()
	ctl.Close()
	log.Info("stopped")
	return runErr
}

// configFile names the file where a setting is fixed: --config or
// PI2PI_CONFIG when given, else the default file.
func configFile(args []string, getenv func(string) string) string {
	for i, a := range args {
		a = strings.TrimLeft(a, "-")
		if v, ok := strings.CutPrefix(a, "config="); ok {
			return v
		}
		if a == "config" && i+1 < len(args) {
			return args[i+1]
		}
	}
	if v := getenv("PI2PI_CONFIG"); v != "" {
		return v
	}
	return config.DefaultFile
}

// peerPort is the port dialled on other terminals: the one we listen on.
func peerPort(a net.Addr, def int) int {
	if ap, err := netip.ParseAddrPort(a.String()); err == nil && ap.Port() != 0 {
		return int(ap.Port())
	}
	return def
}

// serverPin names how the server key is pinned, for `pi2pictl status`.
func serverPin(fingerprint string) string {
	if fingerprint != "" {
		return "configured"
	}
	return "first-use"
}
