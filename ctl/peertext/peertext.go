// Package peertext makes text received from a chat peer safe to show on a
// terminal. A peer must not be able to repaint, retitle or otherwise drive
// someone else's screen (docs/design.md, what a peer may show), so escape sequences are removed
// whole and every other control character is shown as visible text.
package peertext

import (
	"bytes"
	"fmt"
	"strings"
	"unicode"
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
//
// Clean is on the path of every chat line, so text of printable ASCII
// is returned as it is, without copying.
func Clean(s string) string {
	i := safePrefix(s, false)
	if i == len(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	b.WriteString(s[:i])
	for i < len(s) {
		if c := s[i]; isPlainASCII(c) {
			b.WriteByte(c)
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case size > 1 && keepsRune(r):
			b.WriteString(s[i : i+size])
		case r == utf8.RuneError && size <= 1:
			b.WriteRune(utf8.RuneError)
			i++
			continue
		case r == 0x1b:
			i += escapeLen(s[i:])
			continue
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

// isPlainASCII reports the bytes Clean keeps as they are without a look
// at their neighbours: printable ASCII and tab.
func isPlainASCII(c byte) bool { return (c >= 0x20 && c < 0x7f) || c == '\t' }

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

// bidiControls are the ranges of the bidi controls (isBidiControl).
var bidiControls = [][2]rune{{0x202a, 0x202e}, {0x2066, 0x2069}, {0x200e, 0x200f}, {0x061c, 0x061c}}

func isBidiControl(r rune) bool { return inRanges(r, bidiControls) }

// inRanges reports whether r lies in one of the ranges (both ends in).
func inRanges(r rune, ranges [][2]rune) bool {
	for _, rg := range ranges {
		if r >= rg[0] && r <= rg[1] {
			return true
		}
	}
	return false
}

// isInvisible reports characters that take no room on the screen, or
// look like nothing, and could make a peer's text look like something
// else (a name that seems empty, a word split or joined unseen). They are
// dropped; the bidi controls, which reorder what is seen, are shown in
// \u notation instead (Clean checks them first). The set:
//   - every format character (Unicode category Cf): zero-width space,
//     non-joiner and joiner, word joiner, the invisible operators, the
//     byte-order mark, the soft hyphen, the Mongolian vowel separator,
//     the interlinear annotation characters, the tag characters, the
//     musical symbol format controls, the shorthand format controls, the
//     Egyptian hieroglyph format controls, the Arabic number signs and
//     the like (the unicode package's tables, Unicode 15);
//   - the line and paragraph separators U+2028 and U+2029;
//   - blank fillers: the Hangul fillers (U+115F, U+1160, U+3164,
//     U+FFA0), the braille blank U+2800, the Khmer inherent vowels
//     U+17B4 and U+17B5, the combining grapheme joiner U+034F;
//   - the variation selectors (U+FE00-FE0F, U+E0100-E01EF) and the
//     Mongolian free variation selectors (U+180B-180D, U+180F);
//   - the whole tag block U+E0000-E007F, unassigned code points too.
//
// Dropping the zero-width joiner and the variation selectors breaks an
// emoji sequence (👩‍💻) into its emoji (👩💻) and may change an emoji's
// style from colour to text: accepted, nothing of the text is lost.
func isInvisible(r rune) bool {
	return r >= 0xad && (inRanges(r, invisibles) || unicode.Is(unicode.Cf, r))
}

// invisibles are the ranges isInvisible names besides category Cf.
var invisibles = [][2]rune{
	{0x2028, 0x2029}, {0x115f, 0x1160}, {0x3164, 0x3164}, {0xffa0, 0xffa0},
	{0x2800, 0x2800}, {0x17b4, 0x17b5}, {0x034f, 0x034f},
	{0x180b, 0x180f}, {0xfe00, 0xfe0f}, {0xe0000, 0xe01ef},
}

// Text cleans a text of several lines, each with Clean, and keeps its
// line breaks. pi2pictl shows everything through it (ctl/screen), so no
// string from the network (a refusal reason, an address, a user ID, a
// server's message, a key name) reaches the terminal uncleaned, whatever
// path it took through pi2pid.
func Text(s string) string {
	if safePrefix(s, true) == len(s) {
		return s
	}
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = Clean(l)
	}
	return strings.Join(lines, "\n")
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

// maxOpenEscape bounds how far back OpenEscape looks for an escape
// sequence that is still open.
const maxOpenEscape = 4096

// OpenEscape returns where an escape sequence starts that s ends before it
// is complete (an ESC, a CSI without its final byte, an OSC without its
// terminator), so that a reader of a byte stream can hold that tail for
// the next chunk: cleaned in two pieces, the sequence's rest would show
// as text. It returns len(s) when s ends with no open sequence, or with
// one that started more than maxOpenEscape bytes before the end (a
// sequence that long is not held: its rest shows, cleaned).
func OpenEscape(s string) int {
	from := max(0, len(s)-maxOpenEscape)
	for i := from; i < len(s); {
		j := strings.IndexByte(s[i:], 0x1b)
		if j < 0 {
			break
		}
		i += j
		n := escapeLen(s[i:])
		if i+n == len(s) && escapeOpen(s[i:]) {
			return i
		}
		i += max(n, 1)
	}
	return len(s)
}

// escapeOpen reports whether seq, an escape sequence that escapeLen found
// to run to the end of the text, lacks its end.
func escapeOpen(seq string) bool {
	if len(seq) < 2 {
		return true // a lone ESC
	}
	switch seq[1] {
	case '[':
		c := seq[len(seq)-1]
		return len(seq) == 2 || c >= 0x20 && c <= 0x3f // no final byte yet
	case ']', 'P', 'X', '^', '_':
		return seq[len(seq)-1] != 0x07 && !strings.HasSuffix(seq, "\x1b\\")
	}
	return len(seq) == 2 && seq[1] >= 0x20 && seq[1] <= 0x2f // ESC ( without its byte
}
