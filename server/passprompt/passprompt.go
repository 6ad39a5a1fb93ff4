// Package passprompt reads a secret line for the `pi2pi-server user`
// commands: with echo off when stdin is a terminal, as a plain line
// otherwise (scripts, tests). The secret is never shown, not even as '*'.
package passprompt

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// Read prints prompt to out when in is a terminal, reads one line from in
// with echo off, and returns it without the line ending.
func Read(in *os.File, out io.Writer, prompt string) (string, error) {
	restore, isTTY, err := echoOff(in)
	if err != nil {
		return "", err
	}
	if isTTY {
		fmt.Fprint(out, prompt)
		defer func() {
			restore()
			fmt.Fprintln(out)
		}()
	}
	return readLine(in)
}

// readLine reads up to '\n' one byte at a time, so that nothing after the
// line is consumed from a shared stdin.
func readLine(r io.Reader) (string, error) {
	var b strings.Builder
	buf := make([]byte, 1)
	for b.Len() < 4096 {
		n, err := r.Read(buf)
		if n == 1 {
			if buf[0] == '\n' {
				return strings.TrimSuffix(b.String(), "\r"), nil
			}
			b.WriteByte(buf[0])
			continue
		}
		if errors.Is(err, io.EOF) {
			if b.Len() == 0 {
				return "", errors.New("no passcode on standard input")
			}
			return strings.TrimSuffix(b.String(), "\r"), nil
		}
		if err != nil {
			return "", err
		}
	}
	return "", errors.New("passcode line too long")
}
