package peertext

import (
	"encoding/binary"
	"sync"
	"unicode/utf8"
	"unsafe"
)

// The fast path. Chat text goes through Clean or Text at the speed of a
// file transfer, and nearly all of it is kept as it is: safePrefix finds
// how much of a text needs no change, eight ASCII bytes at a time, and
// other characters with one look-up in a table of the code points below
// tableLimit that Clean changes (built once, on the first non-ASCII
// character).

// tableLimit covers the Basic Multilingual Plane and the Supplementary
// Multilingual Plane (emoji among them); characters above it are checked
// one by one.
const tableLimit = 0x20000

var (
	changedOnce sync.Once
	changed     []uint64 // bit r set: Clean changes or drops rune r
)

func buildChanged() {
	changed = make([]uint64, tableLimit/64)
	for r := rune(0x80); r < tableLimit; r++ {
		if changesRune(r) {
			changed[r/64] |= 1 << (r % 64)
		}
	}
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
	var tbl []uint64
	i, n := 0, len(b)
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
		if tbl == nil {
			changedOnce.Do(buildChanged)
			tbl = changed
		}
		var r uint32
		switch {
		case c < 0xc2:
			return i // a continuation byte, or an overlong start
		case c < 0xe0:
			if i+1 >= n || b[i+1]&0xc0 != 0x80 {
				return i
			}
			r = uint32(c&0x1f)<<6 | uint32(b[i+1]&0x3f)
			i += 2
		case c < 0xf0:
			if i+2 >= n || b[i+1]&0xc0 != 0x80 || b[i+2]&0xc0 != 0x80 {
				return i
			}
			r = uint32(c&0x0f)<<12 | uint32(b[i+1]&0x3f)<<6 | uint32(b[i+2]&0x3f)
			if r < 0x800 || r >= 0xd800 && r <= 0xdfff {
				return i
			}
			i += 3
		default:
			r2, size := decodeRune(b[i:])
			if size == 0 {
				return i
			}
			r = uint32(r2)
			if r >= tableLimit {
				if changesRune(r2) {
					return i
				}
				i += size
				continue
			}
			i += size
		}
		if tbl[r/64]&(1<<(r%64)) != 0 {
			return i - utf8.RuneLen(rune(r))
		}
	}
	return n
}

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
