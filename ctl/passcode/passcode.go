// Package passcode turns what a person types on a computer keyboard into
// the key meanings that pi2pid's console keypad takes: digits, Enter,
// Backspace and Cancel. Which letter of a hardware keypad means what is
// pi2pid's key map; pi2pictl only ever sends meanings.
package passcode

import (
	"errors"
	"io"
	"strings"

	"github.com/pi2pi/pi2pi/internal/control"
)

// Key meanings beyond digits.
const (
	Enter     = control.KeyEnter
	Backspace = control.KeyBackspace
	Cancel    = control.KeyCancel
)

// ErrCancelled means the person cancelled passcode entry.
var ErrCancelled = errors.New("passcode entry cancelled")

// KeyFor maps one byte typed on a terminal in key-at-a-time mode to a key
// meaning, or "" for a byte to ignore. The letters of the standard keypad
// work too (a, b, c: Enter, Backspace, Cancel, as printed in the README). A bare Esc is decided by the
// caller (see ReadKeys), since Esc also starts arrow-key sequences.
func KeyFor(c byte) control.Key {
	switch {
	case c >= '0' && c <= '9':
		return control.Digit(c)
	case c == '\r', c == '\n', c == 'a', c == 'A':
		return Enter
	case c == 0x7f, c == 0x08, c == 'b', c == 'B':
		return Backspace
	case c == 'c', c == 'C', c == 0x03, c == 0x04:
		return Cancel
	}
	return ""
}

// EscPending tells ReadKeys whether more bytes follow an Esc (an arrow
// key) or whether the Esc key was pressed alone.
type EscPending func() bool

// ReadKeys reads key presses from r (a terminal in key-at-a-time, no-echo
// mode) and calls press with each keypad key, until Enter or Cancel. It
// returns ErrCancelled after Cancel. Keys without a keypad meaning, and
// whole escape sequences such as arrow keys, are ignored; nothing is ever
// written anywhere.
func ReadKeys(r io.Reader, more EscPending, press func(key control.Key) error) error {
	buf := make([]byte, 1)
	inEsc := false
	for {
		if _, err := io.ReadFull(r, buf); err != nil {
			return err
		}
		c := buf[0]
		if inEsc {
			// Inside an escape sequence: skip until its final byte, or
			// until no more bytes are waiting.
			if (c >= 0x40 && c <= 0x7e && c != '[' && c != 'O') || !more() {
				inEsc = false
			}
			continue
		}
		if c == 0x1b {
			if more() {
				inEsc = true
				continue
			}
			c = 'C'
		}
		key := KeyFor(c)
		if key == "" {
			continue
		}
		if err := press(key); err != nil {
			return err
		}
		switch key {
		case Enter:
			return nil
		case Cancel:
			return ErrCancelled
		}
	}
}

// FromLine returns the keys for a passcode given as one line of text (from
// a pipe): its digits, then Enter. Spaces are ignored; anything else is
// refused, and so is a line without digits.
func FromLine(line string) ([]control.Key, error) {
	var keys []control.Key
	for _, c := range strings.TrimRight(line, "\r\n") {
		switch {
		case c >= '0' && c <= '9':
			keys = append(keys, control.Digit(byte(c)))
		case c == ' ' || c == '\t':
		default:
			return nil, errors.New("a passcode is keypad digits 0-9 only")
		}
	}
	if len(keys) == 0 {
		return nil, errors.New("no passcode given: the line has no digits")
	}
	return append(keys, Enter), nil
}
