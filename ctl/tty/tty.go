// Package tty switches a terminal into the modes pi2pictl needs, with
// termios from golang.org/x/sys/unix: keys one at a time, no echo, for
// reading a passcode the screen must never show.
package tty

import (
	"time"

	"golang.org/x/sys/unix"
)

// IsTerminal reports whether fd is a terminal.
func IsTerminal(fd int) bool {
	_, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	return err == nil
}

// State is a terminal's mode, saved so it can be restored.
type State struct {
	fd  int
	old unix.Termios
}

// KeysNoEcho puts the terminal fd into a mode where each key is read as
// it is pressed and nothing is echoed. Signal keys (CTRL-C) arrive as
// bytes too, so the caller can treat them as a cancel key.
func KeysNoEcho(fd int) (*State, error) {
	t, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return nil, err
	}
	s := &State{fd: fd, old: *t}
	t.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	t.Iflag &^= unix.IXON | unix.ICRNL | unix.INLCR | unix.IGNCR
	t.Cc[unix.VMIN] = 1
	t.Cc[unix.VTIME] = 0
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, t); err != nil {
		return nil, err
	}
	return s, nil
}

// Restore puts the terminal back as it was.
func (s *State) Restore() error {
	return unix.IoctlSetTermios(s.fd, unix.TCSETS, &s.old)
}

// Readable reports whether fd has input within d.
func Readable(fd int, d time.Duration) bool {
	ok, err := poll(fd, d)
	return err == nil && ok
}
