package wire

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// The keys Unmarshal looks at, as indexes into the table of raw values.
const (
	keyMsgtype = iota
	keyUserID
	keyPasscode
	keyLookup
	keyStatus
	keyAnswer
	keyAddress
	keyLocation
	keyEncryptionKey
	keyKey
	keyInitiator
	keyReason
	keyFailedAttempts
	numKeys
)

var keyNames = [numKeys]string{
	"msgtype", "userid", "passcode", "lookup", "status", "answer",
	"address", "location", "encryptionkey", "key", "initiator", "reason",
	"failedattempts",
}

// keyIndex returns the index of a known key, or -1.
func keyIndex(k []byte) int {
	switch string(k) { // no allocation: the compiler compares in place
	case "msgtype":
		return keyMsgtype
	case "userid":
		return keyUserID
	case "passcode":
		return keyPasscode
	case "lookup":
		return keyLookup
	case "status":
		return keyStatus
	case "answer":
		return keyAnswer
	case "address":
		return keyAddress
	case "location":
		return keyLocation
	case "encryptionkey":
		return keyEncryptionKey
	case "key":
		return keyKey
	case "initiator":
		return keyInitiator
	case "reason":
		return keyReason
	case "failedattempts":
		return keyFailedAttempts
	}
	return -1
}

// Unmarshal decodes one JSON object. It fails on anything that is not an
// object or lacks a string msgtype; fields of the wrong type are recorded in
// Message.Invalid rather than failing, so that the receiver can answer with
// the refusal that fits the msgtype.
//
// It accepts exactly what encoding/json accepts and decodes the same
// values: json.Valid checks the syntax, then a scan of the top-level
// object picks out the raw values of the keys above (the last one wins
// when a key repeats, as with a map); only strings holding escapes or
// non-ASCII bytes go through encoding/json. FuzzUnmarshalMatchesReference
// holds it to the map-based original.
func Unmarshal(data []byte) (Message, error) {
	var raw [numKeys][]byte
	if !json.Valid(data) || !scanObject(data, &raw) {
		return Message{}, notObject(data)
	}
	var m Message
	mt := raw[keyMsgtype]
	if mt == nil {
		return Message{}, fmt.Errorf("wire: message has no msgtype")
	}
	typ, ok := decodeString(mt)
	if !ok {
		return Message{}, fmt.Errorf("wire: msgtype is not a string")
	}
	m.Type = strings.ToUpper(strings.TrimSpace(typ))
	// A key that does not belong to the msgtype is an unknown key, ignored
	// whatever its type (a rule of the course protocol, docs/protocol.md); only the message's own keys can make
	// it invalid. For an unknown msgtype every key counts.
	own := ownKeys[m.Type]
	get := func(dst *string, keys ...int) {
		for _, k := range keys {
			v := raw[k]
			if v == nil {
				continue
			}
			if string(v) == "null" {
				return
			}
			s, ok := decodeString(v)
			*dst = s
			name := keyNames[k]
			if !ok && (own == "" || strings.Contains(own, " "+name+" ")) && !slices.Contains(m.Invalid, name) {
				m.Invalid = append(m.Invalid, name)
			}
			return
		}
	}
	get(&m.UserID, keyUserID)
	get(&m.Passcode, keyPasscode)
	get(&m.Lookup, keyLookup)
	get(&m.Status, keyStatus, keyAnswer)
	get(&m.Answer, keyAnswer)
	get(&m.Address, keyAddress, keyLocation)
	get(&m.EncryptionKey, keyEncryptionKey, keyKey)
	get(&m.Initiator, keyInitiator)
	get(&m.Reason, keyReason)
	get(&m.FailedAttempts, keyFailedAttempts)
	// The course handouts name the CONNECTREPLY field "answer" in one place and
	// "status" in the examples: Status holds whichever was sent. In the
	// other replies "answer" is a field of its own, never a status.
	if raw[keyStatus] == nil && m.Type != ConnectReply {
		m.Status = ""
	}
	m.Status = strings.ToUpper(strings.TrimSpace(m.Status))
	return m, nil
}

// notObject explains why data is not a JSON object, in encoding/json's words.
func notObject(data []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return fmt.Errorf("wire: not a JSON object: %w", err)
	}
	return fmt.Errorf("wire: not a JSON object")
}

// decodeString decodes a raw JSON value that must be a string. null and
// other types give "", false.
func decodeString(v []byte) (string, bool) {
	if len(v) < 2 || v[0] != '"' {
		return "", false
	}
	body := v[1 : len(v)-1]
	plain := true
	for _, c := range body {
		if c == '\\' || c >= 0x80 {
			plain = false
			break
		}
	}
	if plain {
		return intern(body), true
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return "", false
	}
	return s, true
}

// intern returns the constant for the msgtypes and statuses we send, so
// that decoding them allocates nothing, and a new string otherwise.
func intern(b []byte) string {
	switch string(b) {
	case AuthReq:
		return AuthReq
	case AuthReply:
		return AuthReply
	case LookupReq:
		return LookupReq
	case LookupReply:
		return LookupReply
	case ConnectReq:
		return ConnectReq
	case ConnectReply:
		return ConnectReply
	case LogoutReq:
		return LogoutReq
	case LogoutReply:
		return LogoutReply
	case Granted:
		return Granted
	case Refused:
		return Refused
	case Success:
		return Success
	case NotFound:
		return NotFound
	case Accepted:
		return Accepted
	case "":
		return ""
	}
	return string(b)
}

// scanObject walks the top-level object of data, which json.Valid has
// accepted, and records the raw value of each known key (the last one when
// a key repeats). It reports false when data is not an object (null, an
// array, a string, a number or a boolean). The bounds checks only guard
// against a bug: valid JSON always passes them.
func scanObject(data []byte, raw *[numKeys][]byte) bool {
	i := skipSpace(data, 0)
	if i >= len(data) || data[i] != '{' {
		return false
	}
	i = skipSpace(data, i+1)
	if i < len(data) && data[i] == '}' {
		return true
	}
	for i < len(data) && data[i] == '"' {
		end := stringEnd(data, i)
		if end > len(data) {
			return false
		}
		k := -1
		if key := data[i+1 : end-1]; bytes.IndexByte(key, '\\') < 0 {
			k = keyIndex(key)
		} else {
			var s string
			if json.Unmarshal(data[i:end], &s) == nil {
				k = keyIndex([]byte(s))
			}
		}
		i = skipSpace(data, end)
		if i >= len(data) || data[i] != ':' {
			return false
		}
		i = skipSpace(data, i+1)
		vend := valueEnd(data, i)
		if vend > len(data) || vend <= i {
			return false
		}
		if k >= 0 {
			raw[k] = data[i:vend]
		}
		i = skipSpace(data, vend)
		if i >= len(data) {
			return false
		}
		if data[i] == '}' {
			return true
		}
		if data[i] != ',' {
			return false
		}
		i = skipSpace(data, i+1)
	}
	return false
}

func skipSpace(data []byte, i int) int {
	for i < len(data) {
		switch data[i] {
		case ' ', '\t', '\r', '\n':
			i++
		default:
			return i
		}
	}
	return i
}

// stringEnd returns the index just past the string that starts at data[i].
func stringEnd(data []byte, i int) int {
	for j := i + 1; j < len(data); j++ {
		switch data[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return len(data) + 1
}

// valueEnd returns the index just past the value that starts at data[i].
func valueEnd(data []byte, i int) int {
	if i >= len(data) {
		return i
	}
	switch data[i] {
	case '"':
		return stringEnd(data, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(data); j++ {
			switch data[j] {
			case '"':
				j = stringEnd(data, j) - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return j + 1
				}
			}
		}
		return len(data) + 1
	}
	// A number, true, false or null runs to the next delimiter.
	j := i
	for j < len(data) {
		switch data[j] {
		case ',', '}', ']', ' ', '\t', '\r', '\n':
			return j
		}
		j++
	}
	return j
}
