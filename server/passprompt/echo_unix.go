//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package passprompt

import (
	"os"

	"golang.org/x/sys/unix"
)

// echoOff turns terminal echo off on f, if f is a terminal.
func echoOff(f *os.File) (restore func(), isTTY bool, err error) {
	fd := int(f.Fd())
	old, err := unix.IoctlGetTermios(fd, ioctlGet)
	if err != nil {
		return func() {}, false, nil // not a terminal
	}
	t := *old
	t.Lflag &^= unix.ECHO
	t.Lflag |= unix.ICANON | unix.ISIG
	if err := unix.IoctlSetTermios(fd, ioctlSet, &t); err != nil {
		return nil, true, err
	}
	return func() { _ = unix.IoctlSetTermios(fd, ioctlSet, old) }, true, nil
}
