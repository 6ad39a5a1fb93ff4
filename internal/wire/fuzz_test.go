package wire

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
)

// FuzzDecoder feeds arbitrary streams to the decoder. It must never panic,
// never return an object over MaxMessage bytes, and every message it
// decodes with a known msgtype must re-encode within the limits and decode
// back to the same message. The seed corpus (f.Add below and
// testdata/fuzz/FuzzDecoder) runs in every `go test`.
func FuzzDecoder(f *testing.F) {
	for _, g := range golden {
		f.Add([]byte(g.want))
	}
	for _, s := range []string{
		authReq + lookReq,
		authReq + "\r\n" + lookReq + "\r\n",
		"{\n\t\"msgtype\": \"AUTHREPLY\",\n\t\"status\": \"Granted\"\n}",
		`{"msgtype":"LOOKUPREPLY","status":"NOTFOUND","answer":"","location":"","encryptionkey":""}`,
		`{"msgtype":"LOOKUPREPLY","status":"SUCCESS","answer":"bianca","address":"192.168.1.23","key":"1234"}`,
		`{"msgtype":"CONNECTREPLY","answer":"ACCEPTED"}Hello, are you there?`,
		`{"msgtype":"AUTHREQ","userid":5,"passcode":["1"]}`,
		`{"msgtype":"AUTHREQ","x":{"y":[{"z":"}]\"{"}]},"userid":"ali","passcode":"1"}`,
		`{"msgtype":"CONNECTREQ","initiator":"\u2028\ud800\\\"\u0000"}`,
		"{\"msgtype\":\"CONNECTREQ\",\"initiator\":\"\xff\xfe\"}",
		`[{"msgtype":"AUTHREQ"}]`,
		`{"msgtype":null}`,
		`{"msgtype":"AUTHREQ"`,
		`{"msgtype":" authreply ","status":" \u01c6 \u00df \u0131 \ufb00 "}`,
		`}}}{{{`,
		"\x16\x03\x01\x00\x05hello",
		"",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		d := NewDecoder(bytes.NewReader(data))
		// Each Next consumes at least one byte, so this terminates.
		for range len(data) + 1 {
			raw, err := d.Next()
			if err != nil {
				if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) &&
					!errors.Is(err, ErrNotObject) && !errors.Is(err, ErrTooLarge) {
					t.Fatalf("Next: unexpected error %v", err)
				}
				return
			}
			if len(raw) > MaxMessage {
				t.Fatalf("Next returned %d bytes, over the limit", len(raw))
			}
			if raw[0] != '{' {
				t.Fatalf("Next returned %q, not an object", raw)
			}
			m, err := Unmarshal(raw)
			if err != nil {
				continue
			}
			checkReencode(t, m)
		}
	})
}

// checkReencode marshals a decoded message and decodes it again.
func checkReencode(t *testing.T, m Message) {
	t.Helper()
	if _, known := ownKeys[m.Type]; !known {
		if _, err := Marshal(m); err == nil {
			t.Fatalf("Marshal of unknown msgtype %q succeeded", m.Type)
		}
		return
	}
	want := project(m)
	b, err := Marshal(m)
	if err != nil {
		// Escaping can make a message longer than it arrived (a control
		// character takes 6 bytes), so only a long one may fail, and only
		// for its size.
		if !strings.Contains(err.Error(), "limit") {
			t.Fatalf("Marshal(%+v): %v", m, err)
		}
		if n := fieldBytes(want); n*6+128 <= MaxMessage {
			t.Fatalf("Marshal of a message with %d bytes of fields failed: %v", n, err)
		}
		return
	}
	if len(b) > MaxMessage || b[len(b)-1] != '\n' {
		t.Fatalf("Marshal produced %d bytes %q", len(b), b)
	}
	back, err := Unmarshal(b)
	if err != nil {
		t.Fatalf("Unmarshal(Marshal(%+v)) = %v", m, err)
	}
	back = project(back)
	if !reflect.DeepEqual(back, want) {
		t.Fatalf("round trip changed the message:\n was %+v\n now %+v\n via %q", want, back, b)
	}
}

// project keeps only the fields that Marshal sends for m.Type, as they are
// sent.
func project(m Message) Message {
	p := Message{Type: m.Type, Status: strings.ToUpper(m.Status)}
	switch m.Type {
	case AuthReq:
		p.UserID, p.Passcode = m.UserID, m.Passcode
		p.Status = ""
	case AuthReply:
		p.UserID, p.FailedAttempts = m.UserID, m.FailedAttempts
	case LogoutReply:
		p.UserID = m.UserID
	case LookupReq:
		p.UserID, p.Lookup = m.UserID, m.Lookup
		p.Status = ""
	case LookupReply:
		p.Answer, p.Address, p.EncryptionKey = m.Answer, m.Address, m.EncryptionKey
	case ConnectReq:
		p.Initiator = m.Initiator
		p.Status = ""
	case ConnectReply:
		p.Reason = m.Reason
	case LogoutReq:
		p.UserID = m.UserID
		p.Status = ""
	}
	return p
}

func fieldBytes(m Message) int {
	return len(m.UserID) + len(m.Passcode) + len(m.Lookup) + len(m.Status) + len(m.Answer) +
		len(m.Address) + len(m.EncryptionKey) + len(m.Initiator) + len(m.Reason) + len(m.FailedAttempts)
}
