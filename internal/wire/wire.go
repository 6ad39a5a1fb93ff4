// Package wire is the pi2pi JSON protocol shared by the server, the terminal
// daemon and the course-style peers they must talk to.
//
// Senders write compact JSON with the seeds' field names, in a fixed order,
// followed by '\n', in one write. Receivers accept successive JSON objects
// from a stream with or without delimiters, ignore unknown keys, compare
// statuses case-insensitively and accept the spellings seen in the wild
// ("location" for "address", "key" for "encryptionkey").
package wire

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// Message types: the six of the seeds plus the logout extension.
const (
	AuthReq      = "AUTHREQ"
	AuthReply    = "AUTHREPLY"
	LookupReq    = "LOOKUPREQ"
	LookupReply  = "LOOKUPREPLY"
	ConnectReq   = "CONNECTREQ"
	ConnectReply = "CONNECTREPLY"
	LogoutReq    = "LOGOUTREQ"
	LogoutReply  = "LOGOUTREPLY"
)

// Status values, always sent in upper case.
const (
	Granted  = "GRANTED"
	Refused  = "REFUSED"
	Success  = "SUCCESS"
	NotFound = "NOTFOUND"
	Accepted = "ACCEPTED"
)

// Reasons carried by the optional "reason" key of a refusal (an extension
// that seed-compliant peers ignore).
const (
	ReasonBusy        = "busy"
	ReasonAway        = "away"
	ReasonNotLoggedIn = "not logged in"
	ReasonMismatch    = "address or key mismatch"
)

// Limits of the protocol.
const (
	MaxMessage   = 4096 // bytes in one JSON message
	MaxUserID    = 32
	MaxPasscode  = 32 // keypad digits
	MaxFieldText = 1024
)

// Message is one decoded or to-be-encoded protocol message. Only the fields
// that belong to Type are sent; the others are ignored by Marshal.
type Message struct {
	Type          string // msgtype, upper case
	UserID        string
	Passcode      string
	Lookup        string
	Status        string // upper case after decoding
	Answer        string
	Address       string
	EncryptionKey string
	Initiator     string
	Reason        string

	// Invalid lists the keys of this msgtype that were present with a
	// wrong JSON type (for example "userid": 5), each once. Keys that do
	// not belong to the msgtype are ignored whatever their type. Set only
	// by Unmarshal.
	Invalid []string
}

// field is one key of an encoded message.
type field struct {
	key   string
	value string
	// omitEmpty leaves the key out when value is empty.
	omitEmpty bool
}

// fields returns the keys sent for m.Type, in the seeds' order.
func (m Message) fields() ([]field, error) {
	switch m.Type {
	case AuthReq:
		return []field{{"userid", m.UserID, false}, {"passcode", m.Passcode, false}}, nil
	case AuthReply:
		return []field{{"userid", m.UserID, false}, {"status", strings.ToUpper(m.Status), false}}, nil
	case LookupReq:
		return []field{{"userid", m.UserID, false}, {"lookup", m.Lookup, false}}, nil
	case LookupReply:
		return []field{
			{"status", strings.ToUpper(m.Status), false},
			{"answer", m.Answer, false},
			{"address", m.Address, false},
			{"encryptionkey", m.EncryptionKey, false},
		}, nil
	case ConnectReq:
		return []field{{"initiator", m.Initiator, false}}, nil
	case ConnectReply:
		return []field{{"status", strings.ToUpper(m.Status), false}, {"reason", m.Reason, true}}, nil
	case LogoutReq:
		return []field{{"userid", m.UserID, false}}, nil
	case LogoutReply:
		return []field{{"userid", m.UserID, false}, {"status", strings.ToUpper(m.Status), false}}, nil
	}
	return nil, fmt.Errorf("wire: cannot send unknown msgtype %q", m.Type)
}

// Marshal returns the compact JSON encoding of m followed by '\n'.
func Marshal(m Message) ([]byte, error) {
	fs, err := m.fields()
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	b.WriteString(`{"msgtype":`)
	writeString(&b, m.Type)
	for _, f := range fs {
		if f.omitEmpty && f.value == "" {
			continue
		}
		b.WriteByte(',')
		writeString(&b, f.key)
		b.WriteByte(':')
		writeString(&b, f.value)
	}
	b.WriteString("}\n")
	if b.Len() > MaxMessage {
		return nil, fmt.Errorf("wire: %s message is %d bytes, over the %d-byte limit", m.Type, b.Len(), MaxMessage)
	}
	return b.Bytes(), nil
}

// writeString writes s as a JSON string without HTML escaping.
func writeString(b *bytes.Buffer, s string) {
	enc := json.NewEncoder(b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // cannot fail for a string
	b.Truncate(b.Len() - 1)
}

// Unmarshal decodes one JSON object. It fails on anything that is not an
// object or lacks a string msgtype; fields of the wrong type are recorded in
// Message.Invalid rather than failing, so that the receiver can answer with
// the refusal that fits the msgtype.
func Unmarshal(data []byte) (Message, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return Message{}, fmt.Errorf("wire: not a JSON object: %w", err)
	}
	if raw == nil {
		return Message{}, fmt.Errorf("wire: not a JSON object")
	}
	var m Message
	mt, ok := raw["msgtype"]
	if !ok {
		return Message{}, fmt.Errorf("wire: message has no msgtype")
	}
	if err := json.Unmarshal(mt, &m.Type); err != nil || string(mt) == "null" {
		return Message{}, fmt.Errorf("wire: msgtype is not a string")
	}
	m.Type = strings.ToUpper(strings.TrimSpace(m.Type))
	// A key that does not belong to the msgtype is an unknown key, ignored
	// whatever its type (seed rule); only the message's own keys can make
	// it invalid. For an unknown msgtype every key counts.
	own := ownKeys[m.Type]
	get := func(dst *string, keys ...string) {
		for _, k := range keys {
			v, ok := raw[k]
			if !ok {
				continue
			}
			if string(v) == "null" {
				return
			}
			if err := json.Unmarshal(v, dst); err != nil {
				*dst = ""
				if (own == "" || strings.Contains(own, " "+k+" ")) && !slices.Contains(m.Invalid, k) {
					m.Invalid = append(m.Invalid, k)
				}
			}
			return
		}
	}
	get(&m.UserID, "userid")
	get(&m.Passcode, "passcode")
	get(&m.Lookup, "lookup")
	get(&m.Status, "status", "answer")
	get(&m.Answer, "answer")
	get(&m.Address, "address", "location")
	get(&m.EncryptionKey, "encryptionkey", "key")
	get(&m.Initiator, "initiator")
	get(&m.Reason, "reason")
	// The seeds name the CONNECTREPLY field "answer" in one place and
	// "status" in the examples: Status holds whichever was sent. In the
	// other replies "answer" is a field of its own, never a status.
	if _, ok := raw["status"]; !ok && m.Type != ConnectReply {
		m.Status = ""
	}
	m.Status = strings.ToUpper(strings.TrimSpace(m.Status))
	return m, nil
}

// ownKeys lists, for each msgtype, the keys (and their accepted aliases)
// that belong to it, space-separated with a space at each end.
var ownKeys = map[string]string{
	AuthReq:      " userid passcode ",
	AuthReply:    " userid status ",
	LookupReq:    " userid lookup ",
	LookupReply:  " status answer address location encryptionkey key ",
	ConnectReq:   " initiator ",
	ConnectReply: " status answer reason ",
	LogoutReq:    " userid ",
	LogoutReply:  " userid status ",
}

// HasInvalid reports whether any field arrived with the wrong JSON type.
func (m Message) HasInvalid() bool { return len(m.Invalid) > 0 }
