package sockets

import (
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"

	"golang.org/x/sys/unix"
)

// listenPrivately binds the control socket in a private directory (mode
// 0700, made next to path), gives it its mode and group there, where
// nobody else can reach it or put anything in its place, and only then
// renames it to path. So the socket never appears at path with another
// mode or owner, and the chmod and chown never act on a path someone
// else could have swapped (issue 11: they used to act on path right
// after the bind).
func listenPrivately(path string, log *slog.Logger) (net.Listener, error) {
	dir, err := os.MkdirTemp(filepath.Dir(path), ".pi2pid-control-")
	if err != nil {
		return nil, fmt.Errorf("creating a private directory for the control socket: %w", err)
	}
	defer os.Remove(dir)
	if err := os.Chmod(dir, 0o700); err != nil { // MkdirTemp makes it 0700 already; be sure
		return nil, err
	}
	tmp := filepath.Join(dir, "control.sock")
	// No window in which the socket is more open than 0660.
	old := unix.Umask(0o117)
	l, err := net.Listen("unix", tmp)
	unix.Umask(old)
	if err != nil {
		return nil, fmt.Errorf("cannot listen on the control socket %s: %w", path, err)
	}
	ul := l.(*net.UnixListener)
	ul.SetUnlinkOnClose(false)
	fail := func(err error) (net.Listener, error) {
		ul.Close()
		os.Remove(tmp)
		return nil, err
	}
	if err := os.Chmod(tmp, 0o660); err != nil {
		return fail(err)
	}
	if g, err := lookupGroup(Group); err == nil {
		gid, _ := strconv.Atoi(g.Gid)
		if err := os.Lchown(tmp, -1, gid); err != nil {
			log.Warn("cannot give the control socket to group "+Group+"; only this user can use pi2pictl", "err", err)
		}
	}
	if err := os.Rename(tmp, path); err != nil {
		return fail(fmt.Errorf("cannot put the control socket in place at %s: %w", path, err))
	}
	return &unixListener{UnixListener: ul, path: path}, nil
}

// unixListener removes its socket file when closed.
type unixListener struct {
	*net.UnixListener
	path string
	once sync.Once
}

// Addr is the socket's path, not the private directory it was bound in.
func (l *unixListener) Addr() net.Addr { return &net.UnixAddr{Name: l.path, Net: "unix"} }

func (l *unixListener) Close() error {
	err := l.UnixListener.Close()
	l.once.Do(func() { os.Remove(l.path) })
	return err
}
