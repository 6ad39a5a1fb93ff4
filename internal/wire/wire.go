// Package wire is the pi2pi JSON protocol shared by the server, the terminal
// daemon and the course-style peers they must talk to.
//
// Senders write compact JSON with the course handouts' field names, in a fixed order,
// followed by '\n', in one write. Receivers accept successive JSON objects
// from a stream with or without delimiters, ignore unknown keys, compare
// statuses case-insensitively and accept the spellings seen in the wild
// ("location" for "address", "key" for "encryptionkey").
package wire

import (
	"fmt"
	"strings"

	"github.com/pi2pi/pi2pi/internal/jsontext"
)

// Message types: the six of the course protocol (docs/protocol.md) plus the logout extension.
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
// that course-style peers ignore).
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
	// FailedAttempts is our server's AUTHREPLY extension: on GRANTED, the
	// decimal number of failed login attempts on the account since its
	// previous login, sent only when not zero. Peers that do not know it
	// ignore it.
	FailedAttempts string

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

// fields returns the keys sent for m.Type, in the course handouts' order: the first n
// entries of fs. An array rather than a slice keeps it off the heap.
func (m Message) fields() (fs [4]field, n int, err error) {
	switch m.Type {
	case AuthReq:
		return [4]field{{"userid", m.UserID, false}, {"passcode", m.Passcode, false}}, 2, nil
	case AuthReply:
		return [4]field{{"userid", m.UserID, false}, {"status", strings.ToUpper(m.Status), false},
			{"failedattempts", m.FailedAttempts, true}}, 3, nil
	case LookupReq:
		return [4]field{{"userid", m.UserID, false}, {"lookup", m.Lookup, false}}, 2, nil
	case LookupReply:
		return [4]field{
			{"status", strings.ToUpper(m.Status), false},
			{"answer", m.Answer, false},
			{"address", m.Address, false},
			{"encryptionkey", m.EncryptionKey, false},
		}, 4, nil
	case ConnectReq:
		return [4]field{{"initiator", m.Initiator, false}}, 1, nil
	case ConnectReply:
		return [4]field{{"status", strings.ToUpper(m.Status), false}, {"reason", m.Reason, true}}, 2, nil
	case LogoutReq:
		return [4]field{{"userid", m.UserID, false}}, 1, nil
	case LogoutReply:
		return [4]field{{"userid", m.UserID, false}, {"status", strings.ToUpper(m.Status), false}}, 2, nil
	}
	return fs, 0, fmt.Errorf("wire: cannot send unknown msgtype %q", m.Type)
}

// Marshal returns the compact JSON encoding of m followed by '\n'.
func Marshal(m Message) ([]byte, error) {
	fs, n, err := m.fields()
	if err != nil {
		return nil, err
	}
	// Size the buffer for the common case of nothing to escape, so that
	// the message is built in one allocation.
	size := len(`{"msgtype":""}`) + 1 + len(m.Type)
	for _, f := range fs[:n] {
		size += len(`,"":""`) + len(f.key) + len(f.value)
	}
	b := make([]byte, 0, size)
	b = append(b, `{"msgtype":`...)
	b = jsontext.AppendStringNoEscapeHTML(b, m.Type)
	for _, f := range fs[:n] {
		if f.omitEmpty && f.value == "" {
			continue
		}
		b = append(b, ',', '"')
		b = append(b, f.key...) // keys are plain ASCII
		b = append(b, '"', ':')
		b = jsontext.AppendStringNoEscapeHTML(b, f.value)
	}
	b = append(b, '}', '\n')
	if len(b) > MaxMessage {
		return nil, fmt.Errorf("wire: %s message is %d bytes, over the %d-byte limit", m.Type, len(b), MaxMessage)
	}
	return b, nil
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
