package peertext

import (
	"encoding/binary"
	"sync"
	"unicode"
	"unicode/utf8"
	"unsafe"
)

// The fast path. Chat text goes through Clean or Text at the speed of a
// file transfer, and nearly all of it is kept as it is: safePrefix finds
// how much of a text needs no change, eight ASCII bytes at a time, and
// other characters by their first two bytes: a table says for each lead
// and second byte whether every character they may start is kept (then
// only the length and the continuation bytes are checked), or whether the
// character must be looked at on its own. Both tables are built once, on
// the first non-ASCII character.

// tableLimit covers the Basic Multilingual Plane and the Supplementary
// Multilingual Plane (emoji among them); characters above it are checked
// one by one.
const tableLimit = 0x20000

var (
	changedOnce sync.Once
	changed     []uint64 // bit r set: Clean changes or drops rune r
	// pairs[nl][pairIndex(w)] is the length of the characters that
	// start with the two bytes of w when all of them are kept: 1 for kept
	// ASCII (newline too when nl), 2, 3 or 4 for other characters (whose
	// continuation bytes contMask checks); 0 when the character must be
	// checked on its own. 16 KiB: it stays in the processor's first-level
	// cache even on a busy machine.
	pairs *[2][1 << 14]uint8
)

// pairIndex is the index in pairs of the character whose first bytes are
// the low two of w: the first byte and the low 6 bits of the second.
func pairIndex(w uint32) uint32 { return (w&0xff)<<6 | w>>8&0x3f }

func buildChanged() {
	changed = markChanged()
	allKept := func(lo, n rune) bool { // n runes from lo, lo and n multiples of 64 or n == 1
		if n == 1 {
			return changed[lo/64]&(1<<(lo%64)) == 0
		}
		for w := lo / 64; w < (lo+n)/64; w++ {
			if changed[w] != 0 {
				return false
			}
		}
		return true
	}
	p := new([2][1 << 14]uint8)
	for lead := rune(0xc2); lead <= 0xf4; lead++ {
		for sec := rune(0); sec < 64; sec++ {
			var lo, n rune
			var l uint8
			switch {
			case lead < 0xe0:
				lo, n, l = (lead&0x1f)<<6|sec, 1, 2
			case lead < 0xf0:
				lo, n, l = (lead&0x0f)<<12|sec<<6, 64, 3
				if lo < 0x800 || lo >= 0xd800 && lo <= 0xdfff {
					continue // overlong or surrogate: not UTF-8
				}
			default:
				lo, n, l = (lead&0x07)<<18|sec<<12, 4096, 4
				if lo < 0x10000 || lo+n > tableLimit {
					continue // overlong, or checked one by one
				}
			}
			if allKept(lo, n) {
				i := pairIndex(uint32(lead) | uint32(sec)<<8)
				p[0][i], p[1][i] = l, l
			}
		}
	}
	for c := uint32(0); c < utf8.RuneSelf; c++ {
		for sec := uint32(0); sec < 64; sec++ {
			if isPlainASCII(byte(c)) {
				p[0][pairIndex(c|sec<<8)] = 1
			}
			if isPlainASCII(byte(c)) || c == '\n' {
				p[1][pairIndex(c|sec<<8)] = 1
			}
		}
	}
	pairs = p
}

// markChanged returns the bitmap of the runes below tableLimit that
// changesRune reports, built from the ranges that make up changesRune
// rather than by asking it about every rune: each pi2pictl builds the
// table on the first non-ASCII character it shows, and 128 K calls of
// unicode.Is cost it milliseconds. TestMarkChanged checks that both agree.
func markChanged() []uint64 {
	bits := make([]uint64, tableLimit/64)
	mark := func(lo, hi, stride rune) {
		for r := max(lo, 0x80); r <= hi && r < tableLimit; r += stride {
			bits[r/64] |= 1 << (r % 64)
		}
	}
	mark(0x80, 0x9f, 1) // C1 controls
	for _, r := range bidiControls {
		mark(r[0], r[1], 1)
	}
	for _, r := range invisibles {
		mark(r[0], r[1], 1)
	}
	for _, rg := range unicode.Cf.R16 {
		mark(rune(rg.Lo), rune(rg.Hi), rune(rg.Stride))
	}
	for _, rg := range unicode.Cf.R32 {
		mark(rune(rg.Lo), rune(rg.Hi), rune(rg.Stride))
	}
	mark(utf8.RuneError, utf8.RuneError, 1)
	return bits
}

// changesRune reports whether Clean changes or drops the non-ASCII rune r.
func changesRune(r rune) bool {
	return r <= 0x9f || isBidiControl(r) || isInvisible(r) || r == utf8.RuneError
}

// keepsRune is changesRune's negation, through the table.
func keepsRune(r rune) bool {
	if r < tableLimit {
		changedOnce.Do(buildChanged)
		return changed[r/64]&(1<<(r%64)) == 0
	}
	return !changesRune(r)
}

const (
	lows  = 0x0101010101010101
	highs = 0x8080808080808080
)

// zeroBytes returns the high bit of each byte of w that is 0; w must
// have no high bit set.
func zeroBytes(w uint64) uint64 { return ^((w | highs) - lows) & highs }

// plain8 reports whether the 8 bytes of w are all kept ASCII: printable
// (0x20-0x7e), tab, and newline when nl.
func plain8(w uint64, nl bool) bool {
	if w&highs != 0 {
		return false
	}
	below := ^((w | highs) - 0x20*lows) & highs // bytes < 0x20
	bad := below&^zeroBytes(w^0x09*lows) | zeroBytes(w^0x7f*lows)
	if nl {
		bad &^= zeroBytes(w ^ 0x0a*lows)
	}
	return bad == 0
}

// safePrefix returns the length of the longest prefix of s that Clean
// keeps unchanged; newlines count as kept when nl is set (Text).
func safePrefix(s string, nl bool) int {
	b := unsafe.Slice(unsafe.StringData(s), len(s)) // read only
	if len(b) >= 1024 {
		changedOnce.Do(buildChanged)
		return safePrefix4(b, nl)
	}
	return scanFrom(b, 0, nl)
}

// scanFrom is safePrefix from i, where a character starts and all
// before is kept.
func scanFrom(b []byte, i int, nl bool) int {
	built := false
	n := len(b)
	for i < n {
		c := b[i]
		if c < utf8.RuneSelf {
			if i+8 <= n && plain8(binary.LittleEndian.Uint64(b[i:]), nl) {
				i += 8
				continue
			}
			if isPlainASCII(c) || nl && c == '\n' {
				i++
				continue
			}
			return i
		}
		if !built {
			changedOnce.Do(buildChanged)
			built = true
		}
		// A run of characters whose first two bytes say they are kept,
		// ASCII among them, checked without a branch per length.
		tbl := &pairs[0]
		if nl {
			tbl = &pairs[1]
		}
		start := i
		for i+4 <= n {
			w := binary.LittleEndian.Uint32(b[i:])
			l := int(tbl[pairIndex(w)])
			if l == 0 || w&contMask[l] != contWant[l] {
				break
			}
			i += l
		}
		if i != start {
			continue // the character at i: as the loop's first
		}
		r, size := decodeRune(b[i:])
		if size == 0 || !keepsRune(r) {
			return i
		}
		i += size
	}
	return n
}

// contMask and contWant check the continuation bytes of a character of 2,
// 3 or 4 bytes, read little-endian with the lead byte lowest.
var (
	contMask = [5]uint32{2: 0xc000, 3: 0xc0c000, 4: 0xc0c0c000}
	contWant = [5]uint32{2: 0x8000, 3: 0x808000, 4: 0x80808000}
)

// decodeRune decodes the valid UTF-8 character of 2 to 4 bytes at the
// start of b; size is 0 for anything else (Clean's slow path decides).
func decodeRune(b []byte) (r rune, size int) {
	c := b[0]
	switch {
	case c >= 0xc2 && c <= 0xdf && len(b) >= 2 && b[1]&0xc0 == 0x80:
		return rune(c&0x1f)<<6 | rune(b[1]&0x3f), 2
	case c >= 0xe0 && c <= 0xef && len(b) >= 3 && b[1]&0xc0 == 0x80 && b[2]&0xc0 == 0x80:
		r = rune(c&0x0f)<<12 | rune(b[1]&0x3f)<<6 | rune(b[2]&0x3f)
		if r < 0x800 || r >= 0xd800 && r <= 0xdfff {
			return 0, 0
		}
		return r, 3
	case c >= 0xf0 && c <= 0xf4 && len(b) >= 4 && b[1]&0xc0 == 0x80 && b[2]&0xc0 == 0x80 && b[3]&0xc0 == 0x80:
		r = rune(c&0x07)<<18 | rune(b[1]&0x3f)<<12 | rune(b[2]&0x3f)<<6 | rune(b[3]&0x3f)
		if r < 0x10000 || r > utf8.MaxRune {
			return 0, 0
		}
		return r, 4
	}
	return 0, 0
}

// safePrefix4 is safePrefix in four parts at once: the table look-ups of
// one do not wait for the others', so a long text of many scripts is
// checked about three times as fast as one character after the other
// (1.5 times as fast as in two parts; BenchmarkTextKeptRandom). Each part
// starts at a byte that starts a character; a part counts only once those
// before it were all kept.
func safePrefix4(b []byte, nl bool) int {
	n := len(b)
	var at, end [4]int
	for k := 1; k < 4; k++ {
		m := max(n*k/4, at[k-1])
		for m < n && b[m]&0xc0 == 0x80 {
			m++ // a continuation byte: the next character starts later
		}
		at[k], end[k-1] = m, m
	}
	end[3] = n
	tbl := &pairs[0]
	if nl {
		tbl = &pairs[1]
	}
	i0, i1, i2, i3 := at[0], at[1], at[2], at[3]
	for i0+8 <= end[0] && plain8(binary.LittleEndian.Uint64(b[i0:]), nl) {
		i0 += 8
	}
	for i0+4 <= end[0] && i1+4 <= end[1] && i2+4 <= end[2] && i3+4 <= end[3] {
		w0 := binary.LittleEndian.Uint32(b[i0:])
		w1 := binary.LittleEndian.Uint32(b[i1:])
		w2 := binary.LittleEndian.Uint32(b[i2:])
		w3 := binary.LittleEndian.Uint32(b[i3:])
		l0, l1, l2, l3 := int(tbl[pairIndex(w0)]), int(tbl[pairIndex(w1)]), int(tbl[pairIndex(w2)]), int(tbl[pairIndex(w3)])
		if l0 == 0 || l1 == 0 || l2 == 0 || l3 == 0 ||
			w0&contMask[l0] != contWant[l0] || w1&contMask[l1] != contWant[l1] ||
			w2&contMask[l2] != contWant[l2] || w3&contMask[l3] != contWant[l3] {
			break
		}
		i0, i1, i2, i3 = i0+l0, i1+l1, i2+l2, i3+l3
	}
	at = [4]int{i0, i1, i2, i3}
	for k := range 4 {
		if got := scanFrom(b[:end[k]], at[k], nl); got != end[k] {
			return got
		}
	}
	return n
}
