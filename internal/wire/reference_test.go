package wire

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
)

// referenceUnmarshal is the original, obviously correct decoder: a map of
// raw values, then encoding/json for each field. Unmarshal must agree with
// it on every input (FuzzUnmarshalMatchesReference).
func referenceUnmarshal(data []byte) (Message, error) {
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
	get(&m.FailedAttempts, "failedattempts")
	if _, ok := raw["status"]; !ok && m.Type != ConnectReply {
		m.Status = ""
	}
	m.Status = strings.ToUpper(strings.TrimSpace(m.Status))
	return m, nil
}

var referenceInputs = []string{
	`{"msgtype":"LOOKUPREQ","userid":"ali","lookup":"bianca"}`,
	` {"msgtype" : "authreq" , "userid" : "Ali" , "passcode" : "12" } `,
	`{"msgtype":"AUTHREQ","userid":"eve","userid":"ali","passcode":"1"}`,
	`{"msgtype":"AUTHREQ","userid":"ali","userid":5,"passcode":"1"}`,
	`{"msgtype":"AUTHREQ","userid":5,"userid":"ali","passcode":"1"}`,
	`{"msgtype":"AUTHREQ","userid":"ali","userid":null}`,
	`{"msg\u0074ype":"AUTHREQ","user\u0069d":"ali"}`,
	`{"msgtype":"\u0041UTHREQ","userid":"\u00e9li\ud83d\ude00"}`,
	`{"msgtype":"CONNECTREQ","initiator":"\u2028\ud800\\\"\u0000"}`,
	"{\"msgtype\":\"CONNECTREQ\",\"initiator\":\"\xff\xfe\"}",
	"{\"msgtype\":\"CONNECTREQ\",\"initi\xffator\":\"x\"}",
	"{\"msgtype\":\"CONNECTREQ\",\"initiator\":\"caf\xc3\xa9\"}",
	`{"msgtype":"LOOKUPREPLY","status":"SUCCESS","location":"10.0.0.8","address":"10.0.0.7","key":"k","encryptionkey":null}`,
	`{"msgtype":"LOOKUPREPLY","status":"SUCCESS","location":7,"address":null,"key":[1],"encryptionkey":{}}`,
	`{"msgtype":"CONNECTREPLY","answer":"accepted"}`,
	`{"msgtype":"CONNECTREPLY","answer":1,"status":null}`,
	`{"msgtype":"PING","userid":5,"x":[1,{"y":"}]"}],"z":-1.5e3,"t":true,"f":false,"n":null}`,
	`{"msgtype":"AUTHREQ","x":{"y":[{"z":"}]\"{"}]},"userid":"ali","passcode":"1"}`,
	`{"msgtype":"AUTHREPLY","status":true}`,
	`{"msgtype":" authreply ","status":" \u01c6 \u00df \u0131 \ufb00 "}`,
	`{"msgtype":"AUTHREQ","userid":"a","passcode":"1"}` + "\n",
	"{\t\"msgtype\"\r\n:\"AUTHREQ\"}",
	``, `null`, ` null `, `[]`, `[{"msgtype":"AUTHREQ"}]`, `"AUTHREQ"`, `42`, `true`, `{}`, `{"userid":"ali"}`,
	`{"msgtype":5}`, `{"msgtype":null}`, `{"msgtype":["AUTHREQ"]}`, `{"msgtype":{}}`, `{"msgtype":"AUTHREQ",}`,
	`{"msgtype":"AUTHREQ"`, `{"msgtype":"AUTHREQ"} {}`, "\xff\xfe", `GET / HTTP/1.1`, `{"msgtype":"A"}x`,
	`{"msgtype":"AUTHREQ","userid":01}`, `{"msgtype":"AUTHREQ","userid":"a\x01"}`, `{"msgtype":"AUTHREQ","userid":"\x"}`,
}

func checkAgainstReference(t *testing.T, data []byte) {
	t.Helper()
	got, gotErr := Unmarshal(data)
	want, wantErr := referenceUnmarshal(data)
	if (gotErr == nil) != (wantErr == nil) || gotErr != nil && gotErr.Error() != wantErr.Error() {
		t.Fatalf("Unmarshal(%q): error %v, reference %v", data, gotErr, wantErr)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Unmarshal(%q)\n got %#v\nwant %#v", data, got, want)
	}
}

func TestUnmarshalMatchesReference(t *testing.T) {
	for _, in := range referenceInputs {
		checkAgainstReference(t, []byte(in))
	}
	for _, g := range golden {
		checkAgainstReference(t, []byte(g.want))
	}
}

// FuzzUnmarshalMatchesReference: the fast decoder and the reference agree
// on messages, errors and error texts.
func FuzzUnmarshalMatchesReference(f *testing.F) {
	for _, in := range referenceInputs {
		f.Add([]byte(in))
	}
	f.Fuzz(func(t *testing.T, data []byte) { checkAgainstReference(t, data) })
}

// referenceNext is the original byte-at-a-time Decoder.Next.
func referenceNext(r *bufio.Reader, buf []byte) ([]byte, error) {
	buf = buf[:0]
	for {
		c, err := r.ReadByte()
		if err != nil {
			return nil, err
		}
		if c == ' ' || c == '\t' || c == '\r' || c == '\n' {
			continue
		}
		if c != '{' {
			return nil, ErrNotObject
		}
		buf = append(buf, c)
		break
	}
	depth, inString, escaped := 1, false, false
	for depth > 0 {
		c, err := r.ReadByte()
		if err != nil {
			if err == io.EOF {
				return nil, io.ErrUnexpectedEOF
			}
			return nil, err
		}
		buf = append(buf, c)
		if len(buf) > MaxMessage {
			return nil, ErrTooLarge
		}
		switch {
		case escaped:
			escaped = false
		case inString && c == '\\':
			escaped = true
		case c == '"':
			inString = !inString
		case inString:
		case c == '{' || c == '[':
			depth++
		case c == '}' || c == ']':
			depth--
		}
	}
	if n := r.Buffered(); n > 0 {
		if b, _ := r.Peek(1); b[0] == '\n' {
			_, _ = r.ReadByte()
		} else if n > 1 {
			if b, _ := r.Peek(2); b[0] == '\r' && b[1] == '\n' {
				_, _ = r.Discard(2)
			}
		}
	}
	return buf, nil
}

// checkNextAgainstReference decodes data with Decoder and with
// referenceNext, each over the same chunking of the stream, and compares
// every message, every error and what is left for the chat phase.
func checkNextAgainstReference(t *testing.T, data []byte) {
	t.Helper()
	chunkings := map[string]func(io.Reader) io.Reader{
		"whole":    func(r io.Reader) io.Reader { return r },
		"one byte": iotest.OneByteReader,
		"halves":   iotest.HalfReader,
	}
	for name, wrap := range chunkings {
		d := NewDecoder(wrap(bytes.NewReader(data)))
		ref := bufio.NewReaderSize(wrap(bytes.NewReader(data)), MaxMessage)
		var refBuf []byte
		for range len(data) + 1 {
			got, gotErr := d.Next()
			want, wantErr := referenceNext(ref, refBuf)
			refBuf = want
			if !errors.Is(gotErr, wantErr) || !bytes.Equal(got, want) {
				t.Fatalf("%s: Next on %q = %q, %v; reference %q, %v", name, data, got, gotErr, want, wantErr)
			}
			if gotErr != nil {
				if gotErr == ErrTooLarge {
					return // the stream is abandoned after an oversize message
				}
				break
			}
		}
		rest, _ := io.ReadAll(d.Reader())
		refRest, _ := io.ReadAll(ref)
		if !bytes.Equal(rest, refRest) {
			t.Fatalf("%s: rest of %q = %q, reference %q", name, data, rest, refRest)
		}
	}
}

var streamInputs = []string{
	`{"msgtype":"LOOKUPREQ","userid":"ali","lookup":"bianca"}` + "\n" + `{"msgtype":"AUTHREQ"}`,
	`{"a":"}\"{"}{"b":[{"c":"\\"}]}` + "\r\n" + `x`,
	` {} {}` + "\n\n" + `{`,
	`{"msgtype":"CONNECTREPLY","status":"ACCEPTED"}` + "\r\nhello\n",
	`[1]`, `}`, ``, "\n\t ",
	`{"a":"` + strings.Repeat("x", MaxMessage-8) + `"}`,
	`{"a":"` + strings.Repeat("x", MaxMessage-7) + `"}`,
	`{"a":"` + strings.Repeat("x", MaxMessage) + `"}`,
	strings.Repeat("{", MaxMessage+5),
}

func TestNextMatchesReference(t *testing.T) {
	for _, in := range streamInputs {
		checkNextAgainstReference(t, []byte(in))
	}
}

// FuzzNextMatchesReference: the chunked scanner consumes and returns what
// the byte-at-a-time original did, whatever the reads look like.
func FuzzNextMatchesReference(f *testing.F) {
	for _, in := range streamInputs {
		f.Add([]byte(in))
	}
	f.Fuzz(func(t *testing.T, data []byte) { checkNextAgainstReference(t, data) })
}
