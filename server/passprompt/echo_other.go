//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly || windows)

package passprompt

import (
	"errors"
	"os"
)

// echoOff cannot turn echo off here; it refuses a terminal rather than
// showing the passcode.
func echoOff(f *os.File) (func(), bool, error) {
	if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
		return nil, true, errors.New("cannot turn off echo on this system; pipe the passcode on stdin")
	}
	return func() {}, false, nil
}
