package control

import (
	"encoding/json"
	"strconv"

	"github.com/pi2pi/pi2pi/internal/jsontext"
	"unicode/utf16"
	"unicode/utf8"
)

// The control protocol is JSON, and chat text crosses it twice per chat
// (request on one terminal, event on the other). encoding/json scans a
// 64 KiB line three times with reflection on top, and that was the
// bottleneck of bulk chat. The functions below encode and decode Request
// and Reply directly. They are exact stand-ins for encoding/json:
// Append* produce the bytes json.Marshal produces, and Parse* return what
// json.Unmarshal returns. Parse* take a fast path only for the plain
// shapes that Append* write (known keys, string, integer and boolean
// values, valid UTF-8) and hand anything else to json.Unmarshal. The fuzz
// tests in codec_test.go check both claims.

// AppendRequest appends r as one JSON object, exactly as json.Marshal
// writes it, without a trailing newline.
func AppendRequest(b []byte, r Request) []byte {
	b = append(b, `{"id":`...)
	b = strconv.AppendInt(b, int64(r.ID), 10)
	b = append(b, `,"op":`...)
	b = jsontext.AppendString(b, string(r.Op))
	if r.Version != 0 {
		b = append(b, `,"version":`...)
		b = strconv.AppendInt(b, int64(r.Version), 10)
	}
	b = appendField(b, `,"userid":`, r.UserID)
	b = appendField(b, `,"key":`, string(r.Key))
	b = appendField(b, `,"token":`, r.Token)
	return append(b, '}')
}

// AppendReply appends r as one JSON object, exactly as json.Marshal writes
// it, without a trailing newline.
func AppendReply(b []byte, r Reply) []byte {
	if r.Status != nil {
		// Rare and small: not worth a second encoder for Status.
		j, err := json.Marshal(r)
		if err != nil { // cannot happen for these field types
			panic(err)
		}
		return append(b, j...)
	}
	b = append(b, `{"type":`...)
	b = jsontext.AppendString(b, string(r.Type))
	if r.ID != 0 {
		b = append(b, `,"id":`...)
		b = strconv.AppendInt(b, int64(r.ID), 10)
	}
	if r.Version != 0 {
		b = append(b, `,"version":`...)
		b = strconv.AppendInt(b, int64(r.Version), 10)
	}
	b = appendField(b, `,"daemon":`, r.Daemon)
	if r.OK {
		b = append(b, `,"ok":true`...)
	}
	b = appendField(b, `,"error":`, r.Error)
	b = appendField(b, `,"code":`, string(r.Code))
	b = appendField(b, `,"event":`, string(r.Event))
	b = appendField(b, `,"state":`, string(r.State))
	b = appendField(b, `,"userid":`, r.UserID)
	b = appendField(b, `,"keypad":`, string(r.Keypad))
	b = appendField(b, `,"peer":`, r.Peer)
	b = appendField(b, `,"direction":`, string(r.Direction))
	b = appendField(b, `,"token":`, r.Token)
	b = appendField(b, `,"safety_code":`, r.SafetyCode)
	b = appendField(b, `,"peer_fingerprint":`, r.PeerFingerprint)
	b = appendField(b, `,"old_fingerprint":`, r.OldFingerprint)
	b = appendField(b, `,"warning":`, string(r.Warning))
	b = appendField(b, `,"warning_detail":`, r.WarningDetail)
	if r.FailedAttempts != 0 {
		b = append(b, `,"failed_attempts":`...)
		b = strconv.AppendInt(b, int64(r.FailedAttempts), 10)
	}
	return append(b, '}')
}

// appendField appends an omitempty string field.
func appendField(b []byte, key, s string) []byte {
	if s == "" {
		return b
	}
	return jsontext.AppendString(append(b, key...), s)
}

// ParseRequest decodes one request line as json.Unmarshal would.
func ParseRequest(line []byte) (Request, error) {
	var r Request
	p := parser{b: line}
	if p.object(func(key []byte) bool {
		switch string(key) {
		case "id":
			return p.int(&r.ID)
		case "op":
			return p.string((*string)(&r.Op))
		case "version":
			return p.int(&r.Version)
		case "userid":
			return p.string(&r.UserID)
		case "key":
			return p.string((*string)(&r.Key))
		case "token":
			return p.string(&r.Token)
		}
		return false
	}) {
		return r, nil
	}
	r = Request{}
	err := json.Unmarshal(line, &r)
	return r, err
}

// ParseReply decodes one reply line as json.Unmarshal would.
func ParseReply(line []byte) (Reply, error) {
	var r Reply
	p := parser{b: line}
	if p.object(func(key []byte) bool {
		switch string(key) {
		case "type":
			return p.string((*string)(&r.Type))
		case "id":
			return p.int(&r.ID)
		case "version":
			return p.int(&r.Version)
		case "daemon":
			return p.string(&r.Daemon)
		case "ok":
			return p.bool(&r.OK)
		case "error":
			return p.string(&r.Error)
		case "code":
			return p.string((*string)(&r.Code))
		case "event":
			return p.string((*string)(&r.Event))
		case "state":
			return p.string((*string)(&r.State))
		case "userid":
			return p.string(&r.UserID)
		case "keypad":
			return p.string((*string)(&r.Keypad))
		case "peer":
			return p.string(&r.Peer)
		case "direction":
			return p.string((*string)(&r.Direction))
		case "token":
			return p.string(&r.Token)
		case "safety_code":
			return p.string(&r.SafetyCode)
		case "peer_fingerprint":
			return p.string(&r.PeerFingerprint)
		case "old_fingerprint":
			return p.string(&r.OldFingerprint)
		case "warning":
			return p.string((*string)(&r.Warning))
		case "warning_detail":
			return p.string(&r.WarningDetail)
		case "failed_attempts":
			return p.int(&r.FailedAttempts)
		}
		return false
	}) {
		return r, nil
	}
	r = Reply{}
	err := json.Unmarshal(line, &r)
	return r, err
}

// parser is the fast path: each method returns false as soon as the input
// is anything it does not handle, and the caller then falls back to
// encoding/json, which decides what it means (or which error it is).
type parser struct {
	b []byte
	i int
}

func (p *parser) space() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *parser) byte(c byte) bool {
	p.space()
	if p.i < len(p.b) && p.b[p.i] == c {
		p.i++
		return true
	}
	return false
}

// object parses a whole input holding one flat object; field parses the
// value of each key.
func (p *parser) object(field func(key []byte) bool) bool {
	if !p.byte('{') {
		return false
	}
	if p.byte('}') {
		return p.end()
	}
	for {
		if !p.byte('"') {
			return false
		}
		start := p.i
		for p.i < len(p.b) && p.b[p.i] != '"' {
			// Escaped or unusual keys, and keys that match a field only
			// case-insensitively, are left to encoding/json.
			if c := p.b[p.i]; c == '\\' || c < 0x20 || c >= utf8.RuneSelf {
				return false
			}
			p.i++
		}
		if p.i == len(p.b) {
			return false
		}
		key := p.b[start:p.i]
		p.i++
		if !p.byte(':') {
			return false
		}
		p.space()
		if !field(key) {
			return false
		}
		if p.byte(',') {
			continue
		}
		if p.byte('}') {
			return p.end()
		}
		return false
	}
}

func (p *parser) end() bool {
	p.space()
	return p.i == len(p.b)
}

// delimited reports whether a scalar ends at p.i.
func (p *parser) delimited() bool {
	if p.i == len(p.b) {
		return true
	}
	switch p.b[p.i] {
	case ' ', '\t', '\n', '\r', ',', '}':
		return true
	}
	return false
}

// int parses a JSON integer of at most 9 digits, which fits an int on
// every platform.
func (p *parser) int(v *int) bool {
	neg := p.i < len(p.b) && p.b[p.i] == '-'
	if neg {
		p.i++
	}
	start := p.i
	n := 0
	for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
		n = n*10 + int(p.b[p.i]-'0')
		p.i++
	}
	digits := p.i - start
	if digits == 0 || digits > 9 || digits > 1 && p.b[start] == '0' || !p.delimited() {
		return false
	}
	if neg {
		n = -n
	}
	*v = n
	return true
}

func (p *parser) bool(v *bool) bool {
	switch {
	case len(p.b)-p.i >= 4 && string(p.b[p.i:p.i+4]) == "true":
		p.i += 4
		*v = true
	case len(p.b)-p.i >= 5 && string(p.b[p.i:p.i+5]) == "false":
		p.i += 5
		*v = false
	default:
		return false
	}
	return p.delimited()
}

// string parses a JSON string holding valid UTF-8. Escapes are decoded;
// \u escapes of surrogates (pairs included) are left to encoding/json.
func (p *parser) string(v *string) bool {
	if p.i == len(p.b) || p.b[p.i] != '"' {
		return false
	}
	p.i++
	start := p.i
	// The common case: no escapes, so the value is a plain copy.
	p.i = jsontext.PlainEnd(p.b, p.i)
	if p.i == len(p.b) || p.b[p.i] < 0x20 {
		return false
	}
	if p.b[p.i] == '"' {
		raw := p.b[start:p.i]
		if !utf8.Valid(raw) {
			return false
		}
		p.i++
		*v = string(raw)
		return true
	}
	out := make([]byte, p.i-start, p.i-start+(len(p.b)-p.i))
	copy(out, p.b[start:p.i])
	for p.i < len(p.b) {
		c := p.b[p.i]
		switch {
		case c == '"':
			if !utf8.Valid(out) {
				return false
			}
			p.i++
			*v = string(out)
			return true
		case c < 0x20:
			return false
		case c != '\\':
			out = append(out, c)
			p.i++
		default:
			if p.i+1 == len(p.b) {
				return false
			}
			e := p.b[p.i+1]
			p.i += 2
			switch e {
			case '"', '\\', '/':
				out = append(out, e)
			case 'b':
				out = append(out, '\b')
			case 'f':
				out = append(out, '\f')
			case 'n':
				out = append(out, '\n')
			case 'r':
				out = append(out, '\r')
			case 't':
				out = append(out, '\t')
			case 'u':
				if len(p.b)-p.i < 4 {
					return false
				}
				r := 0
				for _, h := range p.b[p.i : p.i+4] {
					r <<= 4
					switch {
					case h >= '0' && h <= '9':
						r |= int(h - '0')
					case h >= 'a' && h <= 'f':
						r |= int(h - 'a' + 10)
					case h >= 'A' && h <= 'F':
						r |= int(h - 'A' + 10)
					default:
						return false
					}
				}
				if utf16.IsSurrogate(rune(r)) {
					return false
				}
				p.i += 4
				out = utf8.AppendRune(out, rune(r))
			default:
				return false
			}
		}
	}
	return false
}
