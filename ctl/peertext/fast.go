package peertext

import (
	"encoding/binary"
	"math/bits"
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
// character must be looked at on its own. A long text is checked in
// parts side by side (safePrefixParts). Both tables are built once, on
// the first non-ASCII character.

// tableLimit covers the Basic Multilingual Plane and the Supplementary
// Multilingual Plane (emoji among them); characters above it are checked
// one by one.
const tableLimit = 0x20000

var (
	changedOnce sync.Once
	changed     []uint64 // bit r set: Clean changes or drops rune r
	// pairs[nl][uint16(w)] is the length of the characters that start
	// with the two bytes of w, read little-endian, when all of them are
	// kept: 1 for kept ASCII (newline too when nl), whatever the second
	// byte; 2, 3 or 4 for other characters when the second byte is a
	// continuation byte (the third and fourth contMask checks, or
	// safePrefixParts counts); 0 when the character must be checked on its
	// own, and always when the first byte is a continuation byte. Indexed
	// by the two bytes as they are, it needs no mask and no bounds check.
	// 64 KiB, but a text of a few scripts uses a small part of it: the
	// rows of the ASCII characters for each first byte of a character
	// that follows one, and one cache line per lead byte and second byte
	// (the file benchmark's text about 17 KiB).
	pairs *[2][1 << 16]uint8
)

// pairIndex is the index in pairs of the low two bytes of w.
func pairIndex(w uint32) uint16 { return uint16(w) }

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
	p := new([2][1 << 16]uint8)
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
				i := pairIndex(uint32(lead) | uint32(0x80|sec)<<8)
				p[0][i], p[1][i] = l, l
			}
		}
	}
	var ascii [2][utf8.RuneSelf]uint8 // whatever the second byte
	for c := range byte(utf8.RuneSelf) {
		if isPlainASCII(c) {
			ascii[0][c], ascii[1][c] = 1, 1
		}
	}
	ascii[1]['\n'] = 1
	for sec := range 256 {
		copy(p[0][sec<<8:], ascii[0][:])
		copy(p[1][sec<<8:], ascii[1][:])
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
	if len(b) >= minParts {
		changedOnce.Do(buildChanged)
		return safePrefixParts(b, nl)
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
			l := tbl[uint16(w)]
			if l == 0 || (w^0x80808080)&contMask(l) != 0 {
				break
			}
			i += int(l)
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

// contMask returns the top two bits of each continuation byte of a
// character of l bytes (1 to 4), read little-endian with the first byte
// lowest: they are 10 in UTF-8.
func contMask(l uint8) uint32 { return 0xc0c0c0c0 >> ((32 - 8*l) & 31) &^ 0xff }

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

// safePrefixParts is safePrefix in eight parts at once: the table
// look-ups of one do not wait for the others', so a long text of many
// scripts is checked several times as fast as one character after the
// other. Each part starts at a byte that starts a character; a part
// counts only once those before it were all kept.
//
// The parts step from character to character by the length the table
// gives for their first two bytes and nothing else: no check of the
// continuation bytes and no test for a stop at each character. A part
// that meets a character the table does not know stays where it is
// (length 0); each block of steps ends with a look whether one stayed.
// What a part stepped over is then checked at once: it is whole kept
// characters exactly when the bytes in it that are not continuation bytes
// are as many as its steps (each step starts on one of them, so a
// continuation byte missing, or one too many, shows in the count). A part
// that fails the count is checked again from its start, and one that
// stayed from the start of the block, one character after the other (or
// in parts again when much is left), which finds the exact place.
func safePrefixParts(b []byte, nl bool) int {
	n := len(b)
	var at, end [parts]int
	for k := 1; k < parts; k++ {
		m := max(n/parts*k, at[k-1]) // n*k could overflow an int of 32 bits
		for m < n && b[m]&0xc0 == 0x80 {
			m++ // a continuation byte: the next character starts later
		}
		at[k], end[k-1] = m, m
	}
	end[parts-1] = n
	tbl := &pairs[0]
	if nl {
		tbl = &pairs[1]
	}
	at[0] = plainRun(b[:end[0]], 0, nl)
	i := at    // where each part is, after whole blocks of steps
	steps := 0 // each part took, in those blocks
	for {
		k := 4 * maxSteps
		for p := range parts {
			k = min(k, end[p]-i[p])
		}
		k /= 4 // i+4 <= end before each step: a step moves 4 bytes at most
		if k == 0 {
			break
		}
		j0, j1, j2, j3, j4, j5, j6, j7 := i[0], i[1], i[2], i[3], i[4], i[5], i[6], i[7]
		for range k {
			j0 += int(tbl[pair(b, j0)])
			j1 += int(tbl[pair(b, j1)])
			j2 += int(tbl[pair(b, j2)])
			j3 += int(tbl[pair(b, j3)])
			j4 += int(tbl[pair(b, j4)])
			j5 += int(tbl[pair(b, j5)])
			j6 += int(tbl[pair(b, j6)])
			j7 += int(tbl[pair(b, j7)])
		}
		j := [...]int{j0, j1, j2, j3, j4, j5, j6, j7} // as many as parts
		for p := range parts {
			if stays(b, j[p], end[p], tbl) {
				goto done // from the block's start, one character after the other
			}
		}
		i, steps = j, steps+k
	}
done:
	for p := range parts {
		x := i[p]
		if x-at[p]-contBytes(b[at[p]:x]) != steps {
			x = at[p] // not all whole kept characters: check from the start
		}
		x = plainRun(b[:end[p]], x, nl)
		got := 0
		// The parts did not get far (text of other kinds): in parts again,
		// but only on at most half of this text, so that each level of
		// parts has at most half the text of the one before. A part may
		// hold all of it: the parts start where characters start, so a
		// text of continuation bytes after its first eighth is one part,
		// and checking it in parts again would never end.
		if rest := end[p] - x; rest >= minParts && 2*rest <= n {
			got = x + safePrefixParts(b[x:end[p]], nl)
		} else {
			got = scanFrom(b[:end[p]], x, nl)
		}
		if got != end[p] {
			return got
		}
	}
	return n
}

const (
	// minParts is the shortest text checked in parts.
	minParts = 1024
	// parts is how many parts safePrefixParts checks side by side: with
	// four, the steps waited for their table look-ups; twelve were no
	// faster than eight (BenchmarkTextKeptFile).
	parts = 8
	// maxSteps bounds a block of steps of safePrefixParts, and so the
	// characters checked twice after a part stayed.
	maxSteps = 128
)

// plainRun returns where the run of kept ASCII that starts at b[i] ends,
// or a few bytes before, eight bytes at a time.
func plainRun(b []byte, i int, nl bool) int {
	for i+8 <= len(b) && plain8(binary.LittleEndian.Uint64(b[i:]), nl) {
		i += 8
	}
	return i
}

// stays reports whether a part of safePrefixParts that is at i, and ends
// at e, stays there: the table does not know the character at i. A part
// that stayed has room for a step, as it took one from there.
func stays(b []byte, i, e int, tbl *[1 << 16]uint8) bool {
	return i+4 <= e && tbl[pair(b, i)] == 0
}

// pair returns the index in pairs of the character at b[i].
func pair(b []byte, i int) uint16 { return uint16(b[i]) | uint16(b[i+1])<<8 }

// contBytes returns the number of continuation bytes (10xxxxxx) in b.
func contBytes(b []byte) int {
	n := 0
	for len(b) >= 64 {
		// The high bit of each byte of cont(w) says whether it is one.
		n += bits.OnesCount64(cont(binary.LittleEndian.Uint64(b))>>7 |
			cont(binary.LittleEndian.Uint64(b[8:]))>>6 |
			cont(binary.LittleEndian.Uint64(b[16:]))>>5 |
			cont(binary.LittleEndian.Uint64(b[24:]))>>4 |
			cont(binary.LittleEndian.Uint64(b[32:]))>>3 |
			cont(binary.LittleEndian.Uint64(b[40:]))>>2 |
			cont(binary.LittleEndian.Uint64(b[48:]))>>1 |
			cont(binary.LittleEndian.Uint64(b[56:])))
		b = b[64:]
	}
	for len(b) >= 8 {
		n += bits.OnesCount64(cont(binary.LittleEndian.Uint64(b)))
		b = b[8:]
	}
	for _, c := range b {
		if c&0xc0 == 0x80 {
			n++
		}
	}
	return n
}

// cont sets the high bit of each byte of w that is a continuation byte,
// and no other: bit 7 set, bit 6 clear.
func cont(w uint64) uint64 {
	w ^= highs >> 1
	return w & (w << 1) & highs
}
