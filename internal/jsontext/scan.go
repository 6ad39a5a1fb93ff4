package jsontext

// Word-at-a-time scans for the long runs of ordinary text that make up
// chat: they skip 8 bytes per step while no byte in them needs attention.
// See "Determine if a word has a byte less than n" in Sean Anderson's Bit
// Twiddling Hacks: the tests are exact for the presence of such a byte
// (a borrow may mark bytes above it too), which is all that is used.

const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// word loads 8 bytes of s from i, little-endian.
func word[T string | []byte](s T, i int) uint64 {
	w := s[i : i+8]
	return uint64(w[0]) | uint64(w[1])<<8 | uint64(w[2])<<16 | uint64(w[3])<<24 |
		uint64(w[4])<<32 | uint64(w[5])<<40 | uint64(w[6])<<48 | uint64(w[7])<<56
}

// The masks below have the top bit of a byte set for (at least) the lowest
// byte that matches; x&msb != 0 tests them. They are ORed together so that
// a word costs one branch.

// zeroMask marks a byte of x that is 0.
func zeroMask(x uint64) uint64 { return (x - lsb) &^ x }

// byteMask marks a byte of x that equals c.
func byteMask(x uint64, c byte) uint64 { return zeroMask(x ^ (lsb * uint64(c))) }

// lessMask marks a byte of x below n (n <= 128).
func lessMask(x uint64, n byte) uint64 { return (x - lsb*uint64(n)) &^ x }

// safeRun returns the index of the first byte of s at or after i that
// appendString cannot copy as it is, or a lower index from which a
// byte-wise scan must continue. html adds '<', '>' and '&' to the bytes
// that need attention.
func safeRun(s string, i int, html bool) int {
	for ; i+8 <= len(s); i += 8 {
		x := word(s, i)
		m := x | lessMask(x, 0x20) | byteMask(x, '"') | byteMask(x, '\\')
		if html {
			m |= byteMask(x, '<') | byteMask(x, '>') | byteMask(x, '&')
		}
		if m&msb != 0 {
			return i
		}
	}
	return i
}

// plainRun is safeRun for the parser: it stops at '"', '\\' and control
// characters; other bytes, UTF-8 included, are plain inside a string.
func plainRun(b []byte, i int) int {
	for ; i+8 <= len(b); i += 8 {
		x := word(b, i)
		if (lessMask(x, 0x20)|byteMask(x, '"')|byteMask(x, '\\'))&msb != 0 {
			return i
		}
	}
	return i
}
