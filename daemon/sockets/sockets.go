// Package sockets gives pi2pid its two listeners: the peer port (TCP 8085)
// and the control socket. They come by name from systemd socket activation
// ("peer" and "control") when present; otherwise the daemon opens them
// itself, as when started by hand.
package sockets

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"syscall"
	"time"

	"github.com/coreos/go-systemd/v22/activation"
	"golang.org/x/sys/unix"
)

// Group owns the control socket when it exists.
const Group = "pi2pi"

// lookupGroup finds Group; tests replace it to check the chown without
// adding a group to the system.
var lookupGroup = user.LookupGroup

// Listeners are the daemon's two listeners.
type Listeners struct {
	Peer, Control net.Listener
	// FromSystemd names the listeners that came from socket activation.
	FromSystemd []string
}

// Close closes both listeners (removing a socket file we created).
func (l *Listeners) Close() {
	if l.Peer != nil {
		l.Peer.Close()
	}
	if l.Control != nil {
		l.Control.Close()
	}
}

// Open takes the listeners from systemd when it passed them, and opens the
// missing ones on listen (TCP) and controlPath (Unix).
func Open(listen, controlPath string, log *slog.Logger) (*Listeners, error) {
	ls := &Listeners{}
	named, err := activation.ListenersWithNames()
	if err != nil {
		return nil, fmt.Errorf("socket activation: %w", err)
	}
	for name, l := range named {
		for _, x := range l {
			switch {
			case (name == "peer" || isTCP(x) && name != "control") && ls.Peer == nil:
				ls.Peer = x
			case (name == "control" || isUnix(x)) && ls.Control == nil:
				ls.Control = x
			default:
				log.Warn("ignoring a socket passed by systemd", "name", name, "addr", x.Addr().String())
				x.Close()
			}
		}
	}
	if ls.Peer != nil {
		ls.FromSystemd = append(ls.FromSystemd, "peer")
	}
	if ls.Control != nil {
		ls.FromSystemd = append(ls.FromSystemd, "control")
	}
	if ls.Peer == nil {
		// No keepalive set at accept: pi2pid sets its own once a chat
		// begins (peerlink.Tune), off the chat request's critical path.
		lc := net.ListenConfig{KeepAlive: -1}
		l, err := lc.Listen(context.Background(), "tcp", listen)
		if err != nil {
			ls.Close()
			return nil, fmt.Errorf("cannot listen for peers on %s: %w", listen, err)
		}
		ls.Peer = l
	}
	deferAccept(ls.Peer, log)
	if ls.Control == nil {
		l, err := ListenUnix(controlPath, log)
		if err != nil {
			ls.Close()
			return nil, err
		}
		ls.Control = l
	}
	return ls, nil
}

// DeferAcceptSeconds is how long the kernel holds a new peer connection
// that has sent nothing yet before pi2pid accepts it anyway.
const DeferAcceptSeconds = 10

// deferAccept has the kernel hand over a peer connection only once its
// first bytes (the CONNECTREQ, or a TLS ClientHello) have arrived: pi2pid
// then wakes once per chat request instead of twice (accept, then read),
// which shortens the callee's side of every chat set-up. A connection that
// stays silent is handed over after DeferAcceptSeconds and meets pi2pid's
// own deadline as before.
func deferAccept(l net.Listener, log *slog.Logger) {
	tl, ok := l.(*net.TCPListener)
	if !ok {
		return
	}
	rc, err := tl.SyscallConn()
	if err != nil {
		return
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_DEFER_ACCEPT, DeferAcceptSeconds)
	}); err != nil || serr != nil {
		log.Debug("TCP_DEFER_ACCEPT not set on the peer listener", "err", errors.Join(err, serr))
	}
}

func isTCP(l net.Listener) bool { _, ok := l.(*net.TCPListener); return ok }

func isUnix(l net.Listener) bool { _, ok := l.(*net.UnixListener); return ok }

// ListenUnix opens the control socket at path: mode 0660, group pi2pi when
// that group exists (see listenPrivately). A stale socket file is removed, but not one that a
// live daemon still answers on.
func ListenUnix(path string, log *slog.Logger) (net.Listener, error) {
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode()&os.ModeSocket == 0 {
			return nil, fmt.Errorf("%s exists and is not a socket: move it away or choose another --control", path)
		}
		c, err := net.DialTimeout("unix", path, time.Second)
		if err == nil {
			c.Close()
			return nil, fmt.Errorf("another pi2pid is already listening on %s: stop it first (sudo systemctl stop pi2pid) or choose another --control", path)
		}
		if !errors.Is(err, syscall.ECONNREFUSED) && !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("cannot tell whether %s is in use: %w", path, err)
		}
		log.Info("removing stale control socket", "path", path)
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("removing stale control socket: %w", err)
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("creating the control socket's directory: %w", err)
	}
	return listenPrivately(path, log)
}
