// Package jsontext writes JSON strings byte for byte as encoding/json does,
// without reflection, and finds the plain runs of a JSON string for a
// parser. The wire protocol (internal/wire) and the control protocol
// (internal/control) both encode their messages by hand for speed and share
// these pieces; the tests hold them to encoding/json.
package jsontext

import "unicode/utf8"

const hexDigits = "0123456789abcdef"

// AppendString appends s as a JSON string exactly as json.Marshal writes
// it, HTML escaping on: '"', '\\' and control characters escaped (\b \f \n
// \r \t short, the others as \u00XX), '<', '>' and '&' as \u00XX, invalid
// UTF-8 replaced by \ufffd, U+2028 and U+2029 escaped, everything else as
// it is.
func AppendString(b []byte, s string) []byte { return appendString(b, s, true) }

// AppendStringNoEscapeHTML appends s as a JSON string exactly as a
// json.Encoder with SetEscapeHTML(false) writes it: as AppendString, but
// '<', '>' and '&' stay as they are.
func AppendStringNoEscapeHTML(b []byte, s string) []byte { return appendString(b, s, false) }

// safeASCII and safeASCIIHTML hold the bytes that appendString copies as
// they are: ASCII except control characters, '"' and '\\' (and '<', '>'
// and '&' when escaping HTML).
var safeASCII, safeASCIIHTML = func() (t, h [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
		h[c] = t[c] && c != '<' && c != '>' && c != '&'
	}
	return t, h
}()

func appendString(b []byte, s string, html bool) []byte {
	safe := &safeASCII
	if html {
		safe = &safeASCIIHTML
	}
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if j := safeRun(s, i, html); j > i {
			i = j
			continue
		}
		if safe[s[i]] {
			i++
			continue
		}
		c := s[i]
		if c < utf8.RuneSelf {
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// plainInString holds the bytes that stand for themselves inside a JSON
// string: all but '"', '\\' and control characters.
var plainInString = func() (t [256]bool) {
	for c := 0x20; c < 256; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// PlainEnd returns the index of the first byte of b at or after i that does
// not stand for itself inside a JSON string ('"', '\\' or a control
// character), or len(b) if there is none. Other bytes, UTF-8 included, are
// plain; whether they are valid UTF-8 is for the caller to check.
func PlainEnd(b []byte, i int) int {
	for {
		if j := plainRun(b, i); j > i {
			i = j
		} else if i < len(b) && plainInString[b[i]] {
			i++
		} else {
			return i
		}
	}
}
