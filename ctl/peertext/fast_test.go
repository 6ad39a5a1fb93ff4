package peertext

import (
	"bytes"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// TestSafePrefixParts: the eight parts checked side by side find the same
// prefix as one scan from the start, on random text of kept and changed
// characters, invalid bytes and newlines, of every length around the
// parts' edges.
func TestSafePrefixParts(t *testing.T) {
	changedOnce.Do(buildChanged)
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 2))
	kept := []rune{'a', '~', '\t', 'é', 'Ж', '中', '😀', 0x10ffff}
	changed := []rune{'\n', 0x7f, 1, 0x85, 0x200b, 0x202e, 0xe0001, utf8.RuneError}
	for it := range 20000 {
		var b []byte
		for range rng.IntN(300) {
			switch k := rng.IntN(100); {
			case k == 0:
				b = append(b, byte(rng.IntN(256)))
			case k < 3:
				b = utf8.AppendRune(b, changed[rng.IntN(len(changed))])
			default:
				b = utf8.AppendRune(b, kept[rng.IntN(len(kept))])
			}
		}
		for _, nl := range []bool{false, true} {
			if want, got := scanFrom(b, 0, nl), safePrefixParts(b, nl); got != want {
				t.Fatalf("seed %d iteration %d: %q (nl %v): %d kept in parts, %d in one scan", seed, it, b, nl, got, want)
			}
		}
	}
}

// refPrefix is safePrefix the plain way: rune by rune, decoded as
// utf8.DecodeRune decodes them, up to the first that Clean changes or
// drops (changesRune), newlines kept when nl.
func refPrefix(b []byte, nl bool) int {
	i := 0
	for i < len(b) {
		r, size := utf8.DecodeRune(b[i:])
		if r < utf8.RuneSelf {
			if !isPlainASCII(byte(r)) && !(nl && r == '\n') {
				break
			}
		} else if size <= 1 || changesRune(r) {
			break
		}
		i += size
	}
	return i
}

// TestSafePrefixMatchesReference: safePrefix finds what refPrefix finds,
// on random bytes and on random text of many scripts with now and then a
// character Clean changes, broken UTF-8, or a character cut short at the
// end or where safePrefixParts splits the text, of 0 to 5000 bytes, and
// now and then longer, of two kinds (seed printed).
func TestSafePrefixMatchesReference(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 3))
	for it := range 6000 {
		var b []byte
		if it%4 == 0 {
			b = randomBytes(rng, rng.IntN(5001))
		} else {
			b = randomText(rng, rng.IntN(5001))
		}
		if it%50 == 0 { // long, of two kinds: parts checked again in parts
			b = append(randomText(rng, rng.IntN(40000)), randomText(rng, rng.IntN(40000))...)
		}
		if it%50 == 25 { // a long run of one byte: parts of very unequal sizes
			run := bytes.Repeat([]byte{byte(0x80 + rng.IntN(0x40))}, rng.IntN(20000))
			if rng.IntN(2) == 0 {
				run = bytes.Repeat([]byte{byte(rng.IntN(256))}, len(run))
			}
			b = append(append(randomText(rng, rng.IntN(3000)), run...), randomText(rng, rng.IntN(3000))...)
		}
		for _, nl := range []bool{false, true} {
			if got, want := safePrefix(string(b), nl), refPrefix(b, nl); got != want {
				t.Fatalf("seed %d iteration %d: safePrefix(%q, %v) = %d, want %d", seed, it, b, nl, got, want)
			}
		}
	}
}

// TestSafePrefixOnePart: texts whose parts all start at their end but the
// first (continuation bytes from the first eighth on: the parts start where
// characters start) are checked, not taken apart again and again: a peer's
// 2,000 bytes of 0x80 overflowed the stack of a pi2pictl that showed them
// (found by FuzzClean).
func TestSafePrefixOnePart(t *testing.T) {
	for _, s := range []string{
		strings.Repeat("\x80", 2000),
		"a" + strings.Repeat("\x80", 5000),
		strings.Repeat("é", 600) + strings.Repeat("\xbf", 3000),
		strings.Repeat("abcdefgh", 200) + strings.Repeat("\x80", 200000),
	} {
		for _, nl := range []bool{false, true} {
			if got, want := safePrefix(s, nl), refPrefix([]byte(s), nl); got != want {
				t.Fatalf("safePrefix(%q..., %v) = %d, want %d", s[:12], nl, got, want)
			}
		}
		if got := Text(s); !utf8.ValidString(got) {
			t.Fatalf("Text(%q...) is not UTF-8", s[:12])
		}
	}
}

// randomBytes returns n random bytes, mostly of the kinds UTF-8 is made of.
func randomBytes(rng *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		switch rng.IntN(4) {
		case 0:
			b[i] = byte(0x20 + rng.IntN(0x5f)) // printable ASCII
		case 1:
			b[i] = byte(0x80 + rng.IntN(0x40)) // continuation
		case 2:
			b[i] = byte(0xc0 + rng.IntN(0x40)) // lead, or never in UTF-8
		default:
			b[i] = byte(rng.IntN(256))
		}
	}
	return b
}

var (
	// keptRanges are ranges of characters Clean keeps: the scripts of the
	// e2e file benchmark, and (keptEdges, rarer) the edges of the UTF-8
	// lengths and characters the table leaves to a look of their own.
	keptRanges = [][2]rune{{0x20, 0x7e}, {'\t', '\t'}, {0xc0, 0x17f}, {0x391, 0x3c9}, {0x410, 0x44f},
		{0x4e00, 0x4e80}, {0x1f600, 0x1f64f}}
	keptEdges = [][2]rune{{0xa0, 0xa0}, {0x7ff, 0x800}, {0xfffc, 0xfffc}, {0xffff, 0x10000},
		{0x1ffff, 0x20000}, {0x10fffd, 0x10ffff}}
	// badChars are characters Clean changes or drops, and broken UTF-8:
	// overlong forms, surrogates, code points above U+10FFFF, bytes never
	// in UTF-8, stray continuation bytes, a lead without all its bytes.
	badChars = []string{"\x00", "\x1b", "\x7f", "\r", "\n", "\u0085", "\u009b", "\u200e", "\u202e", "\u2066",
		"\u061c", "\ufeff", "\ufffd", "\u200b", "\u00ad", "\U000e0001", "\U000e0100", "\ufe0f",
		"\xc0\x80", "\xc1\xbf", "\xe0\x80\x80", "\xe0\x9f\xbf", "\xe0\x92\x80", "\xf0\x84\x80\x80", "\xed\xa0\x80", "\xed\xbf\xbf",
		"\xf0\x80\x80\x80", "\xf0\x8f\xbf\xbf", "\xf4\x90\x80\x80", "\xf5\x80\x80\x80", "\xff", "\xfe",
		"\x80", "\xbf", "\xc3", "\xe4\xb8", "\xf0\x9f\x98", "\xe4", "\xf0\x9f", "\xf0",
		// cut short, before ASCII that a length from the first two bytes
		// would step over
		"\xc3a", "\xdf\t", "\xe4ab", "\xe4\xb8a", "\xf0abc", "\xf0\x9fab", "\xf0\x9f\x98a", "\xe4\xb8\n"}
)

// randomText returns about n bytes of kept text of many scripts in lines,
// with, in most texts, one or a few bad characters at random places, at
// the end or cut short where safePrefixParts splits the text.
func randomText(rng *rand.Rand, n int) []byte {
	var b []byte
	ascii := rng.IntN(2) == 0 // half the texts: mostly ASCII
	for len(b) < n {
		if rng.IntN(40) == 0 {
			b = append(b, '\n')
			continue
		}
		rg := keptRanges[rng.IntN(len(keptRanges))]
		if ascii && rng.IntN(4) != 0 {
			rg = keptRanges[0]
		} else if rng.IntN(500) == 0 {
			rg = keptEdges[rng.IntN(len(keptEdges))]
		}
		b = utf8.AppendRune(b, rg[0]+rune(rng.IntN(int(rg[1]-rg[0]+1))))
	}
	bad := func() []byte { return []byte(badChars[rng.IntN(len(badChars))]) }
	switch rng.IntN(4) {
	case 0: // none
	case 1: // one or a few anywhere
		for range 1 + rng.IntN(3) {
			if len(b) > 0 {
				at := rng.IntN(len(b))
				for at > 0 && !utf8.RuneStart(b[at]) && rng.IntN(8) != 0 {
					at-- // mostly between two characters
				}
				b = append(b[:at], append(bad(), b[at:]...)...)
			}
		}
	case 2: // a character cut short at the end
		if r := utf8.AppendRune(nil, rune(0x80+rng.IntN(0x10ff80))); len(r) > 1 {
			b = append(b, r[:1+rng.IntN(len(r)-1)]...)
		}
	default: // across or at a place where the parts split a text this long
		k := 1 + rng.IntN(parts-1)
		m := len(b) / parts * k
		x := bad()
		if m >= len(x) {
			copy(b[m-rng.IntN(len(x)+1):], x)
		}
	}
	return b
}

// contBytes counts the continuation bytes of random bytes of every length
// up to 100 as a byte by byte count does (seed printed).
func TestContBytes(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 4))
	for it := range 20000 {
		b := randomBytes(rng, it%101)
		want := 0
		for _, c := range b {
			if c >= 0x80 && c <= 0xbf {
				want++
			}
		}
		if got := contBytes(b); got != want {
			t.Fatalf("seed %d: contBytes(% x) = %d, want %d", seed, b, got, want)
		}
	}
}

// FuzzSafePrefix: the fast check finds what the rune-by-rune reference
// finds, for any bytes (long ones reach the check in parts).
func FuzzSafePrefix(f *testing.F) {
	f.Add([]byte("plain ASCII text\n"), uint16(0))
	f.Add([]byte("é\x80"), uint16(3000))
	f.Add([]byte("\x80"), uint16(2000))
	f.Add([]byte("中文 emoji 😀\u202e"), uint16(200))
	f.Fuzz(func(t *testing.T, b []byte, repeat uint16) {
		// Repeated, a short input makes a long text: runs of one kind that
		// the parts split in odd places.
		count := 1 + int(repeat)%4096
		if len(b) > 0 {
			count = min(count, 1+(1<<20)/len(b))
		}
		s := bytes.Repeat(b, count)
		for _, nl := range []bool{false, true} {
			if got, want := safePrefix(string(s), nl), refPrefix(s, nl); got != want {
				t.Fatalf("safePrefix(%q, %v) = %d, want %d", s, nl, got, want)
			}
		}
	})
}
