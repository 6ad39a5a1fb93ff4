package userstore

import (
	"bytes"
	"errors"
	"fmt"
	"unicode/utf8"
)

// encoding/json replaces invalid UTF-8 and lone UTF-16 surrogate escapes
// with U+FFFD when it decodes a string, so that "cl\xe9" and "cl\xe8"
// (Latin-1 bytes) would both become the same "cl\ufffd". The checks here
// look at the raw JSON text instead, before it is decoded.

// rawTextProblem says what is wrong with the text of a raw JSON fragment
// (a string literal, or whitespace, commas and string literals): invalid
// UTF-8, or a \uXXXX escape of a lone UTF-16 surrogate. "" when nothing.
// It never quotes the text.
func rawTextProblem(raw []byte) string {
	if !utf8.Valid(raw) {
		return "is not valid UTF-8 (is the file in Latin-1 or another legacy encoding? save it as UTF-8)"
	}
	if hasLoneSurrogate(raw) {
		return `holds a lone UTF-16 surrogate escape (\ud800-\udfff without its pair), which is no character`
	}
	return ""
}

// hasLoneSurrogate reports whether raw holds a \uD800-\uDFFF escape that is
// not a high surrogate directly followed by a low one. Backslashes occur in
// valid JSON only inside strings, so raw may span several tokens.
func hasLoneSurrogate(raw []byte) bool {
	for i := 0; i < len(raw); i++ {
		if raw[i] != '\\' {
			continue
		}
		if i+1 >= len(raw) || raw[i+1] != 'u' {
			i++ // an escaped character such as \\ or \"
			continue
		}
		r, ok := hex4(raw, i+2)
		switch {
		case !ok:
			i++
		case r >= 0xD800 && r <= 0xDBFF:
			low, ok := rune(0), false
			if i+7 < len(raw) && raw[i+6] == '\\' && raw[i+7] == 'u' {
				low, ok = hex4(raw, i+8)
			}
			if !ok || low < 0xDC00 || low > 0xDFFF {
				return true
			}
			i += 11
		case r >= 0xDC00 && r <= 0xDFFF:
			return true
		default:
			i += 5
		}
	}
	return false
}

// hex4 reads the four hex digits of a \u escape at raw[at:].
func hex4(raw []byte, at int) (rune, bool) {
	if at+4 > len(raw) {
		return 0, false
	}
	var r rune
	for _, c := range raw[at : at+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// importEncoding drops a UTF-8 byte-order mark (Windows Notepad writes
// one; it is no part of the JSON) and refuses UTF-16 and UTF-32 files by
// name, rather than as "invalid character".
func importEncoding(data []byte) ([]byte, error) {
	if bytes.HasPrefix(data, utf8BOM) {
		return data[len(utf8BOM):], nil
	}
	utf16 := bytes.HasPrefix(data, []byte{0xFF, 0xFE}) || bytes.HasPrefix(data, []byte{0xFE, 0xFF}) ||
		len(data) >= 2 && (data[0] == 0 || data[1] == 0) // "{" or a space as UTF-16/32 without a BOM
	if utf16 {
		return nil, errors.New("line 1: the file looks like UTF-16 (or UTF-32), not UTF-8; save it as UTF-8")
	}
	return data, nil
}

// maxShownID bounds a user ID as messages show it.
const maxShownID = 40

// shortID is id as a message shows it, quoted, and cut after maxShownID
// bytes (at a character boundary) with its length, so that a huge bad ID
// does not flood the terminal.
func shortID(id string) string {
	if len(id) <= maxShownID {
		return fmt.Sprintf("%q", id)
	}
	cut := maxShownID
	for cut > maxShownID-utf8.UTFMax && !utf8.RuneStart(id[cut]) {
		cut--
	}
	return fmt.Sprintf("%q…(%d bytes)", id[:cut], len(id))
}
