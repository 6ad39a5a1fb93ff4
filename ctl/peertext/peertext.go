// Package peertext makes text received from a chat peer safe to show on a
// terminal. A peer must not be able to repaint, retitle or otherwise drive
// someone else's screen (docs/design.md, what a peer may show), so escape sequences are removed
// whole and every other control character is shown as visible text.
package peertext

import (
	"bytes"
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
// notation, invisible characters (see isInvisible) removed, and invalid
// UTF-8 replaced by U+FFFD. Printable UTF-8 and tab pass through
// unchanged. Clean works on one line: a newline is shown as ^J.
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
		case isInvisible(r):
			// dropped: it would hide or fake text without being seen
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

// isInvisible reports characters that take no room on the screen and
// could make a peer's text look like something else: zero-width space,
// non-joiner and joiner, word joiner and the invisible operators, the
// byte-order mark (zero-width no-break space), the soft hyphen, the tag
// characters, the line and paragraph separators, and the interlinear
// annotation characters.
func isInvisible(r rune) bool {
	switch {
	case r >= 0x200b && r <= 0x200d, r >= 0x2060 && r <= 0x2064,
		r == 0xfeff, r == 0x00ad, r == 0x2028, r == 0x2029,
		r >= 0xfff9 && r <= 0xfffb, r >= 0xe0000 && r <= 0xe007f:
		return true
	}
	return false
}

// Text cleans a text of several lines, each with Clean, and keeps its
// line breaks. pi2pictl shows everything through it (ctl/screen), so no
// string from the network (a refusal reason, an address, a user ID, a
// server's message, a key name) reaches the terminal uncleaned, whatever
// path it took through pi2pid.
func Text(s string) string {
	if !needsCleaning(s) {
		return s
	}
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = Clean(l)
	}
	return strings.Join(lines, "\n")
}

// needsCleaning is a fast check for the common case, text of printable
// ASCII.
func needsCleaning(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 0x20 && c != '\t' && c != '\n') || c >= 0x7f {
			return true
		}
	}
	return false
}

// Label is put before each line a peer sent, so that no peer line can
// pass for one of pi2pictl's own ("Connection ended", "Login: "): a peer
// can send neither a line break nor anything that moves the cursor, so
// every line of its text on the screen starts with the label.
func Label(peer string) string { return Clean(peer) + "> " }

// Lines assembles chunks of a byte stream into lines. Peers may send
// lines without a newline, or one line in several chunks.
//
// When Peer is set, every line returned starts with Label(Peer): a whole
// line, a part longer than MaxPending, and the unterminated rest that
// Flush shows after a pause alike. A line shown in parts (a course peer's
// chunks without newlines) thus shows the label on each part, as each
// part starts a line of its own on the screen.
//
// When Width is set too, it gives the terminal's width, and a line too
// long for one row is broken into rows that each start with the label:
// otherwise a peer could pad a line so that the terminal wraps it right
// before text of its choosing, which would then start a row of its own.
type Lines struct {
	Peer    string
	Width   func() int
	pending []byte
}

// Add appends a chunk and returns the complete lines it finished, cleaned
// and without their line endings. A pending part longer than MaxPending
// is returned as a line of its own.
func (l *Lines) Add(chunk string) []string {
	l.pending = append(l.pending, chunk...)
	var out []string
	for {
		i := bytes.IndexByte(l.pending, '\n')
		if i < 0 {
			break
		}
		out = append(out, l.cleanLine(l.pending[:i]))
		l.pending = l.pending[i+1:]
	}
	for len(l.pending) > MaxPending {
		cut := MaxPending
		for cut > MaxPending-utf8.UTFMax && !utf8.RuneStart(l.pending[cut]) {
			cut--
		}
		out = append(out, l.cleanLine(l.pending[:cut]))
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
	s := l.cleanLine(l.pending)
	l.pending = nil
	return s, true
}

// cleanLine drops a CR before the line end (peers on Windows send CRLF)
// and puts the label in front.
func (l *Lines) cleanLine(b []byte) string {
	s := Clean(strings.TrimSuffix(string(b), "\r"))
	if l.Peer == "" {
		return s
	}
	label := Label(l.Peer)
	if l.Width == nil {
		return label + s
	}
	rows := wrap(s, l.Width()-1-len(label))
	return label + strings.Join(rows, "\n"+label)
}

// wrap breaks a cleaned line into rows of at most width columns. It counts
// generously (a tab as 8 columns, any non-ASCII character as 2), so that
// the terminal never has to wrap a row itself. A width too small to be
// of use leaves the line whole.
func wrap(s string, width int) []string {
	if width < 8 {
		return []string{s}
	}
	var rows []string
	start, cols := 0, 0
	for i, r := range s {
		w := 1
		switch {
		case r == '\t':
			w = 8
		case r >= 0x80:
			w = 2
		}
		if cols+w > width {
			rows = append(rows, s[start:i])
			start, cols = i, 0
		}
		cols += w
	}
	return append(rows, s[start:])
}
