package passprompt

import (
	"os"

	"golang.org/x/sys/windows"
)

// echoOff turns console echo off on f, if f is a console.
func echoOff(f *os.File) (restore func(), isTTY bool, err error) {
	h := windows.Handle(f.Fd())
	var mode uint32
	if err := windows.GetConsoleMode(h, &mode); err != nil {
		return func() {}, false, nil
	}
	if err := windows.SetConsoleMode(h, mode&^windows.ENABLE_ECHO_INPUT|windows.ENABLE_LINE_INPUT); err != nil {
		return nil, true, err
	}
	return func() { _ = windows.SetConsoleMode(h, mode) }, true, nil
}
