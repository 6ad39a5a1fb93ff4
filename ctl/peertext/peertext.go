// Package peertext makes text received from a chat peer safe to show on a
// terminal. A peer must not be able to repaint, retitle or otherwise drive
// someone else's screen (docs/design.md, what a peer may show), so escape sequences are removed
// whole and every other control character is shown as visible text.
package peertext

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// MaxPending bounds how much of an unterminated line Lines holds back
// before it shows it anyway.
const MaxPending = 4096

// Clean returns s with escape sequences (CSI, OSC, DCS, SOS, PM, APC and
// two-byte ESC sequences) removed, other C0 and C1 control characters
// shown in caret or \u notation, bidirectional overrides shown as \u
// notation, and invalid UTF-8 replaced by U+FFFD. Printable UTF-8 and tab
// pass through unchanged. Clean works on one line: a newline is shown as ^J.
func Clean(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size <= 1:
			b.WriteRune(utf8.RuneError)
			i++
			continue
		case r == 0x1b:
			i += escapeLen(s[i:])
			continue
		case r == '\t':
			b.WriteByte('\t')
		case r < 0x20:
			b.WriteByte('^')
			b.WriteByte(byte(r) + '@')
		case r == 0x7f:
			b.WriteString("^?")
		case r >= 0x80 && r <= 0x9f, isBidiControl(r):
			fmt.Fprintf(&b, "\\u%04x", r)
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// escapeLen returns how many bytes of s, which starts with ESC, belong to
// the escape sequence.
func escapeLen(s string) int {
	if len(s) < 2 {
		return len(s)
	}
	switch s[1] {
	case '[': // CSI: parameters and intermediates 0x20-0x3f, final 0x40-0x7e
		for i := 2; i < len(s); i++ {
			c := s[i]
			if c >= 0x40 && c <= 0x7e {
				return i + 1
			}
			if c < 0x20 || c > 0x3f {
				return i // malformed: drop what we have, show the rest
			}
		}
		return len(s)
	case ']', 'P', 'X', '^', '_': // OSC, DCS, SOS, PM, APC: up to BEL or ST
		for i := 2; i < len(s); i++ {
			if s[i] == 0x07 {
				return i + 1
			}
			if s[i] == 0x1b && i+1 < len(s) && s[i+1] == '\\' {
				return i + 2
			}
		}
		return len(s)
	}
	if s[1] >= 0x20 && s[1] <= 0x2f && len(s) >= 3 { // ESC ( B and friends
		return 3
	}
	if s[1] < 0x80 {
		return 2
	}
	return 1
}

func isBidiControl(r rune) bool {
	return (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069) || r == 0x200e || r == 0x200f || r == 0x061c
}

// Lines assembles chunks of a byte stream into lines. Peers may send
// lines without a newline, or one line in several chunks.
type Lines struct {
	pending []byte
}

// Add appends a chunk and returns the complete lines it finished, cleaned
// and without their line endings. A pending part longer than MaxPending
// is returned as a line of its own.
func (l *Lines) Add(chunk string) []string {
	l.pending = append(l.pending, chunk...)
	var out []string
	for {
		i := strings.IndexByte(string(l.pending), '\n')
		if i < 0 {
			break
		}
		out = append(out, cleanLine(l.pending[:i]))
		l.pending = l.pending[i+1:]
	}
	for len(l.pending) > MaxPending {
		cut := MaxPending
		for cut > MaxPending-utf8.UTFMax && !utf8.RuneStart(l.pending[cut]) {
			cut--
		}
		out = append(out, cleanLine(l.pending[:cut]))
		l.pending = l.pending[cut:]
	}
	if len(l.pending) == 0 {
		l.pending = nil
	}
	return out
}

// Pending reports whether an unterminated line is held back.
func (l *Lines) Pending() bool { return len(l.pending) > 0 }

// Flush returns the unterminated rest, cleaned, if there is one.
func (l *Lines) Flush() (string, bool) {
	if len(l.pending) == 0 {
		return "", false
	}
	s := cleanLine(l.pending)
	l.pending = nil
	return s, true
}

// cleanLine drops a CR before the line end (peers on Windows send CRLF).
func cleanLine(b []byte) string {
	s := strings.TrimSuffix(string(b), "\r")
	return Clean(s)
}
