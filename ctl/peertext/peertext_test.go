package peertext

import (
	"math/rand"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"
)

func TestClean(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"plain", "Hello, how are you today?", "Hello, how are you today?"},
		{"utf8 and tab", "héllo\twörld ✓ 日本", "héllo\twörld ✓ 日本"},
		{"title change BEL", "a\x1b]0;pwned\x07b", "ab"},
		{"title change ST", "a\x1b]2;pwned\x1b\\b", "ab"},
		{"OSC 52 clipboard", "x\x1b]52;c;cm0gLXJmIH4=\x07y", "xy"},
		{"cursor moves", "\x1b[2J\x1b[H\x1b[10;20Hhi\x1b[1A", "hi"},
		{"colour", "\x1b[31mred\x1b[0m", "red"},
		{"private mode", "\x1b[?1049hscreen", "screen"},
		{"DCS", "a\x1bPq#0;2;0;0;0\x1b\\b", "ab"},
		{"charset", "\x1b(0lqk", "lqk"},
		{"bare ESC at end", "abc\x1b", "abc"},
		{"ESC c reset", "\x1bcreset", "reset"},
		{"bell and backspace", "ding\x07\b\b", "ding^G^H^H"},
		{"carriage return overwrite", "rm -rf /\rls", "rm -rf /^Mls"},
		{"DEL", "a\x7fb", "a^?b"},
		{"C1 CSI", "a\u009b2Jb", `a\u009b2Jb`},
		{"C1 OSC", "\u009d0;x\u009c", `\u009d0;x\u009c`},
		{"invalid utf8", "a\xffb\x9b[2J", "a\ufffdb\ufffd[2J"},
		{"bidi override", "abc\u202edcba", `abc\u202edcba`},
		{"newline", "a\nb", "a^Jb"},
		{"NUL", "a\x00b", "a^@b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Clean(tt.in)
			if got != tt.want {
				t.Errorf("Clean(%q) = %q, want %q", tt.in, got, tt.want)
			}
			for _, r := range got {
				if (r < 0x20 && r != '\t') || r == 0x7f || (r >= 0x80 && r <= 0x9f) {
					t.Errorf("Clean(%q) kept control character %U", tt.in, r)
				}
			}
		})
	}
}

func FuzzClean(f *testing.F) {
	f.Add("\x1b]0;title\x07")
	f.Add("\x1b[31m\u009b")
	f.Fuzz(func(t *testing.T, s string) {
		for _, r := range Clean(s) {
			if (r < 0x20 && r != '\t') || r == 0x7f || (r >= 0x80 && r <= 0x9f) || isBidiControl(r) {
				t.Fatalf("Clean(%q) kept %U", s, r)
			}
		}
	})
}

func TestLines(t *testing.T) {
	var l Lines
	if got := l.Add("Hel"); len(got) != 0 {
		t.Fatalf("partial chunk gave lines %q", got)
	}
	if !l.Pending() {
		t.Fatal("Pending = false after partial chunk")
	}
	got := l.Add("lo\r\nsecond\nthi")
	if strings.Join(got, "|") != "Hello|second" {
		t.Fatalf("lines = %q", got)
	}
	rest, ok := l.Flush()
	if !ok || rest != "thi" {
		t.Fatalf("Flush = %q, %v", rest, ok)
	}
	if _, ok := l.Flush(); ok {
		t.Fatal("second Flush returned text")
	}
	long := l.Add(strings.Repeat("é", MaxPending))
	if len(long) != 1 || len(long[0]) > MaxPending || strings.ContainsRune(long[0], '\ufffd') {
		t.Fatalf("long line split badly: %d lines, first %d bytes", len(long), len(long[0]))
	}
}

// TestFormatAndFillerCharactersAreDropped: every format character
// (category Cf) other than the bidi controls, which are shown, and the
// blank fillers that look like nothing (Hangul fillers, braille blank,
// Mongolian separators, the combining grapheme joiner, Khmer inherent
// vowels, variation selectors) are dropped, so a peer cannot hide text
// or fake an empty name with them.
func TestFormatAndFillerCharactersAreDropped(t *testing.T) {
	fillers := []rune{0x180e, 0x3164, 0x115f, 0x1160, 0xffa0, 0x034f, 0x17b4, 0x17b5, 0x2800,
		0x180b, 0x180c, 0x180d, 0x180f}
	ranges := [][2]rune{{0x1d173, 0x1d17a}, {0x1bca0, 0x1bca3}, {0x13430, 0x1343f},
		{0xfe00, 0xfe0f}, {0xe0100, 0xe01ef}}
	for _, rg := range ranges {
		for r := rg[0]; r <= rg[1]; r++ {
			fillers = append(fillers, r)
		}
	}
	for r := rune(0); r <= unicode.MaxRune; r++ {
		if unicode.Is(unicode.Cf, r) && !isBidiControl(r) {
			fillers = append(fillers, r)
		}
	}
	for _, r := range fillers {
		in := "ali" + string(r) + "ce"
		if got := Clean(in); got != "alice" {
			t.Errorf("Clean(%q) = %q: %U was kept", in, got, r)
		}
	}
	// Bidi controls (Cf too) stay visible as \u notation, as before.
	if got := Clean("a\u202eb\u2066c"); got != `a\u202eb\u2066c` {
		t.Errorf("bidi controls: %q", got)
	}
	// A ZWJ emoji sequence falls apart into its emoji: accepted, the
	// emoji themselves stay.
	if got := Clean("👩\u200d💻\ufe0f"); got != "👩💻" {
		t.Errorf("emoji sequence: %q", got)
	}
}

// TestCleanKeepsPrintableTextUnchanged: random printable text, ASCII or
// not, comes out byte for byte; Clean of clean text changes nothing.
func TestCleanKeepsPrintableTextUnchanged(t *testing.T) {
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewSource(seed))
	alphabet := []rune("abc XYZ 019 ~!\t é日本✓🙂\u00a0ß")
	for range 2000 {
		var b strings.Builder
		for range rng.Intn(40) {
			b.WriteRune(alphabet[rng.Intn(len(alphabet))])
		}
		s := b.String()
		if got := Clean(s); got != s {
			t.Fatalf("Clean(%q) = %q", s, got)
		}
		// Anything at all: the result is valid UTF-8 and clean already.
		raw := make([]byte, rng.Intn(40))
		rng.Read(raw)
		c := Clean(string(raw))
		if !utf8.ValidString(c) || Clean(c) != c {
			t.Fatalf("Clean(%q) = %q, which is not clean", raw, c)
		}
	}
}

// decodeRune agrees with utf8.DecodeRune on every valid character of 2 to
// 4 bytes, and refuses everything else, at random (seed printed).
func TestDecodeRuneMatchesUTF8(t *testing.T) {
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewSource(seed))
	check := func(b []byte) {
		r, size := decodeRune(b)
		wr, wsize := utf8.DecodeRune(b)
		valid := wsize > 1 && !(wr == utf8.RuneError && wsize == 1)
		if valid && (r != wr || size != wsize) || !valid && size != 0 {
			t.Fatalf("decodeRune(% x) = %U, %d; utf8 says %U, %d", b, r, size, wr, wsize)
		}
	}
	for r := rune(0x80); r <= utf8.MaxRune; r += 1 + rune(rng.Intn(7)) {
		check(utf8.AppendRune(nil, r))
	}
	for range 200000 {
		b := make([]byte, 1+rng.Intn(4))
		for i := range b {
			b[i] = byte(0x80 + rng.Intn(0x80))
			if i == 0 && rng.Intn(2) == 0 {
				b[i] = byte(0xc0 + rng.Intn(0x40))
			}
		}
		check(b)
	}
}

// safePrefix stops exactly at the first character Clean would change,
// checked rune by rune on random text (seed printed).
func TestSafePrefixStopsAtFirstChange(t *testing.T) {
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewSource(seed))
	pool := []rune{'a', 'Z', ' ', '~', '\t', '\n', 0x00, 0x1b, 0x7f, 0x80, 0x9f, 0xa0, 0xad, 0xe9, 0x34f, 0x61c,
		0x7ff, 0x800, 0x200b, 0x202e, 0x2028, 0x4e00, 0xfeff, 0xfffd, 0xffff, 0x10000, 0x1f600, 0x1d173,
		0x1ffff, 0x20000, 0xe0001, 0xe0100, 0x10ffff}
	for range 20000 {
		var b []byte
		for range rng.Intn(40) {
			switch rng.Intn(20) {
			case 0:
				b = append(b, byte(0x80+rng.Intn(0x80))) // a stray byte
			case 1, 2, 3, 4, 5, 6, 7, 8:
				b = append(b, byte(0x20+rng.Intn(0x5f)))
			default:
				b = utf8.AppendRune(b, pool[rng.Intn(len(pool))])
			}
		}
		s := string(b)
		for _, nl := range []bool{false, true} {
			want := 0
			for want < len(s) {
				r, size := utf8.DecodeRuneInString(s[want:])
				if r < utf8.RuneSelf {
					if !isPlainASCII(byte(r)) && !(nl && r == '\n') {
						break
					}
				} else if size <= 1 || changesRune(r) {
					break
				}
				want += size
			}
			if got := safePrefix(s, nl); got != want {
				t.Fatalf("safePrefix(%q, %v) = %d, want %d", s, nl, got, want)
			}
		}
	}
}

// The same for long texts, which safePrefix checks in parts: one
// character Clean changes (or a stray byte) at a random place, or none.
func TestSafePrefixLongText(t *testing.T) {
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewSource(seed))
	kept := []rune{'a', ' ', '\t', 'é', 0x7ff, 0x800, 0x4e00, 0xffff, 0x10000, 0x1f600, 0x20000}
	bad := []string{"\x1b", "\x7f", "\u0085", "\u200b", "\u202e", "\U000e0001", "\xff", "\xe4\xb8", "\xf0\x9f\x98"}
	for range 2000 {
		var b []byte
		size := 1024 + rng.Intn(3000)
		for len(b) < size {
			if rng.Intn(3) == 0 {
				b = append(b, "plain ascii words"[:1+rng.Intn(17)]...)
			}
			b = utf8.AppendRune(b, kept[rng.Intn(len(kept))])
		}
		if rng.Intn(4) != 0 {
			at := rng.Intn(len(b))
			for at > 0 && !utf8.RuneStart(b[at]) {
				at--
			}
			b = append(b[:at], append([]byte(bad[rng.Intn(len(bad))]), b[at:]...)...)
		}
		s := string(b)
		for _, nl := range []bool{false, true} {
			want := scanFrom([]byte(s), 0, nl) // one scan from the start
			ref := 0
			for ref < len(s) {
				r, size := utf8.DecodeRuneInString(s[ref:])
				if r < utf8.RuneSelf {
					if !isPlainASCII(byte(r)) && !(nl && r == '\n') {
						break
					}
				} else if size <= 1 || changesRune(r) {
					break
				}
				ref += size
			}
			if got := safePrefix(s, nl); got != ref || want != ref {
				t.Fatalf("safePrefix(%d bytes, %v) = %d, scanFrom %d, want %d", len(s), nl, got, want, ref)
			}
		}
	}
}

// TestMarkChanged: the table built from the ranges says of every rune
// below tableLimit what changesRune says.
func TestMarkChanged(t *testing.T) {
	bits := markChanged()
	for r := rune(0x80); r < tableLimit; r++ {
		if got := bits[r/64]&(1<<(r%64)) != 0; got != changesRune(r) {
			t.Fatalf("U+%04X: table says changed=%v, changesRune says %v", r, got, !got)
		}
	}
}

func TestOpenEscape(t *testing.T) {
	for _, tc := range []struct {
		s    string
		want int
	}{
		{"abc", 3},
		{"abc\x1b", 3},
		{"abc\x1b[", 3},
		{"abc\x1b[31", 3},
		{"abc\x1b[31m", 8},
		{"abc\x1b]0;ti", 3},
		{"abc\x1b]0;title\x07", 13},
		{"abc\x1b]0;title\x1b", 3},
		{"abc\x1b]0;title\x1b\\", 14},
		{"abc\x1b(", 3},
		{"abc\x1b(B", 6},
		{"\x1b[31mred\x1b[", 8},
		{"\x1b[31\x01x", 6},                          // malformed: not held
		{"x\x1b]" + strings.Repeat("a", 5000), 5003}, // too long to hold
	} {
		if got := OpenEscape(tc.s); got != tc.want {
			t.Errorf("OpenEscape(%q) = %d, want %d", tc.s, got, tc.want)
		}
	}
}
