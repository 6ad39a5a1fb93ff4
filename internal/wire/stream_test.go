package wire

import (
	"bytes"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

const (
	authReq = `{"msgtype":"AUTHREQ","userid":"ali","passcode":"1234"}`
	lookReq = `{"msgtype":"LOOKUPREQ","userid":"ali","lookup":"bianca"}`
)

var (
	wantAuth = Message{Type: AuthReq, UserID: "ali", Passcode: "1234"}
	wantLook = Message{Type: LookupReq, UserID: "ali", Lookup: "bianca"}
)

// decodeAll decodes messages until the stream ends and returns them with
// the error that stopped it.
func decodeAll(r io.Reader) ([]Message, error) {
	d := NewDecoder(r)
	var out []Message
	for {
		m, err := d.Decode()
		if err != nil {
			return out, err
		}
		out = append(out, m)
	}
}

func TestDecoderFraming(t *testing.T) {
	tests := []struct {
		name string
		in   string
	}{
		{"newline", authReq + "\n" + lookReq + "\n"},
		{"no delimiter", authReq + lookReq},
		{"CRLF", authReq + "\r\n" + lookReq + "\r\n"},
		{"blank lines and spaces", "\n\n  \t" + authReq + " \r\n\r\n\t " + lookReq + "\n\n"},
		{"pretty-printed as in the course handouts", "{\n  \"msgtype\": \"AUTHREQ\",\n  \"userid\": \"ali\",\n  \"passcode\": \"1234\"\n}\n" +
			"{\n\t\"msgtype\": \"LOOKUPREQ\",\n\t\"userid\": \"ali\",\n\t\"lookup\": \"bianca\"\n}"},
		{"braces inside strings", `{"msgtype":"AUTHREQ","userid":"ali","passcode":"1234","x":"}{\"}\\"}` + lookReq},
		{"nested unknown values", `{"msgtype":"AUTHREQ","a":{"b":[{"c":"]"}]},"userid":"ali","passcode":"1234"}` + lookReq},
	}
	readers := []struct {
		name string
		wrap func(io.Reader) io.Reader
	}{
		{"one read", func(r io.Reader) io.Reader { return r }},
		{"one byte per read", iotest.OneByteReader},
		{"half reads", iotest.HalfReader},
		{"data with EOF", iotest.DataErrReader},
	}
	for _, tc := range tests {
		for _, rd := range readers {
			t.Run(tc.name+"/"+rd.name, func(t *testing.T) {
				got, err := decodeAll(rd.wrap(strings.NewReader(tc.in)))
				if !errors.Is(err, io.EOF) {
					t.Fatalf("stream ended with %v, want io.EOF", err)
				}
				if len(got) != 2 {
					t.Fatalf("decoded %d messages, want 2: %+v", len(got), got)
				}
				if got[0].Type != AuthReq || got[0].UserID != "ali" || got[0].Passcode != "1234" {
					t.Errorf("first message %+v, want %+v", got[0], wantAuth)
				}
				if got[1].Type != LookupReq || got[1].UserID != "ali" || got[1].Lookup != "bianca" {
					t.Errorf("second message %+v, want %+v", got[1], wantLook)
				}
			})
		}
	}
}

// TestDecoderOverConn runs the decoder on a real connection: two messages
// in one write, then one message written a byte at a time, then a message
// whose reply must not wait for the delimiter.
func TestDecoderOverConn(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		c.Write([]byte(authReq + "\n" + lookReq + "\n"))
		for i := 0; i < len(lookReq); i++ {
			c.Write([]byte{lookReq[i]})
			time.Sleep(100 * time.Microsecond)
		}
		// A lone CR after the message: the decoder must return the
		// message without waiting to see whether an LF follows.
		c.Write([]byte(authReq + "\r"))
		io.Copy(io.Discard, c) // hold the connection open until the client is done
	}()
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	d := NewDecoder(c)
	for i, want := range []Message{wantAuth, wantLook, wantLook, wantAuth} {
		m, err := d.Decode()
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if m.Type != want.Type || m.UserID != want.UserID || m.Lookup != want.Lookup || m.Passcode != want.Passcode {
			t.Fatalf("message %d = %+v, want %+v", i, m, want)
		}
	}
}

// TestDecoderChatPhase checks that the bytes after a CONNECTREPLY, which
// belong to the chat, stay readable through Reader whatever delimiter the
// peer used, and that our own newline is not handed to the chat.
func TestDecoderChatPhase(t *testing.T) {
	const reply = `{"msgtype":"CONNECTREPLY","status":"ACCEPTED"}`
	const chat = "Hello, are you there?\nYes, here I am!"
	for _, tc := range []struct{ name, sep string }{
		{"newline", "\n"},
		{"CRLF", "\r\n"},
		{"no delimiter", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := NewDecoder(strings.NewReader(reply + tc.sep + chat))
			m, err := d.Decode()
			if err != nil || m.Type != ConnectReply || m.Status != Accepted {
				t.Fatalf("Decode = %+v, %v", m, err)
			}
			if d.Buffered() != len(chat) {
				t.Errorf("Buffered = %d, want %d", d.Buffered(), len(chat))
			}
			rest, err := io.ReadAll(d.Reader())
			if err != nil {
				t.Fatal(err)
			}
			if string(rest) != chat {
				t.Errorf("chat bytes %q, want %q", rest, chat)
			}
		})
	}
	// Chat text that arrives later, on a real stream, is read through the
	// same Reader.
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	go func() {
		a.Write([]byte(reply + "\nHel"))
		a.Write([]byte("lo\n"))
		a.Close()
	}()
	d := NewDecoder(b)
	if _, err := d.Decode(); err != nil {
		t.Fatal(err)
	}
	rest, _ := io.ReadAll(d.Reader())
	if string(rest) != "Hello\n" {
		t.Errorf("chat bytes %q, want %q", rest, "Hello\n")
	}
}

func TestDecoderErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want error // nil: any error other than a clean io.EOF
	}{
		{"empty", "", io.EOF},
		{"whitespace only", " \r\n\t\n", io.EOF},
		{"array", `[{"msgtype":"AUTHREQ"}]`, ErrNotObject},
		{"string", `"AUTHREQ"`, ErrNotObject},
		{"number", `42`, ErrNotObject},
		{"garbage", "GET / HTTP/1.1\r\n\r\n", ErrNotObject},
		{"TLS ClientHello", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", ErrNotObject},
		{"NUL", "\x00", ErrNotObject},
		{"unterminated", `{"msgtype":"AUTHREQ","userid":"ali"`, io.ErrUnexpectedEOF},
		{"unterminated string", `{"msgtype":"AUTHREQ","userid":"ali}`, io.ErrUnexpectedEOF},
		{"oversize", `{"msgtype":"AUTHREQ","userid":"` + strings.Repeat("a", MaxMessage) + `"}`, ErrTooLarge},
		{"oversize nesting", strings.Repeat("{", MaxMessage+10), ErrTooLarge},
		{"not JSON inside braces", `{msgtype: AUTHREQ}`, nil},
		{"object without msgtype", `{"userid":"ali"}`, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewDecoder(strings.NewReader(tc.in)).Decode()
			switch {
			case err == nil:
				t.Fatal("Decode succeeded, want an error")
			case tc.want == nil && errors.Is(err, io.EOF):
				t.Fatalf("Decode = %v, want a decoding error", err)
			case tc.want != nil && !errors.Is(err, tc.want):
				t.Fatalf("Decode = %v, want %v", err, tc.want)
			}
		})
	}
}

// TestDecoderBoundary pins the size limit: an object of exactly MaxMessage
// bytes decodes, one byte more does not.
func TestDecoderBoundary(t *testing.T) {
	pad := MaxMessage - len(`{"msgtype":"CONNECTREQ","initiator":""}`)
	exact := `{"msgtype":"CONNECTREQ","initiator":"` + strings.Repeat("a", pad) + `"}`
	if len(exact) != MaxMessage {
		t.Fatalf("test bug: len %d", len(exact))
	}
	m, err := NewDecoder(strings.NewReader(exact)).Decode()
	if err != nil || len(m.Initiator) != pad {
		t.Fatalf("%d-byte message: %v", len(exact), err)
	}
	over := `{"msgtype":"CONNECTREQ","initiator":"` + strings.Repeat("a", pad+1) + `"}`
	if _, err := NewDecoder(strings.NewReader(over)).Decode(); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("%d-byte message: %v, want ErrTooLarge", len(over), err)
	}
	// An endless message is cut off at the limit: the decoder does not
	// read on until the sender stops.
	r := &countingReader{r: infiniteReader('a'), prefix: []byte(`{"msgtype":"`)}
	if _, err := NewDecoder(r).Decode(); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("endless message: %v, want ErrTooLarge", err)
	}
	if r.n > 2*MaxMessage {
		t.Errorf("read %d bytes of an endless message, want at most %d", r.n, 2*MaxMessage)
	}
}

type infiniteReader byte

func (c infiniteReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(c)
	}
	return len(p), nil
}

type countingReader struct {
	prefix []byte
	r      io.Reader
	n      int
}

func (c *countingReader) Read(p []byte) (int, error) {
	if len(c.prefix) > 0 {
		n := copy(p, c.prefix)
		c.prefix = c.prefix[n:]
		c.n += n
		return n, nil
	}
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

// TestDecoderKeepsGoingAfterBadObject: an object that is not a valid
// message does not poison the stream; the next one decodes.
func TestDecoderKeepsGoingAfterBadObject(t *testing.T) {
	d := NewDecoder(strings.NewReader(`{"userid":"ali"}` + "\n" + `{"msgtype":5}` + authReq))
	for i := 0; i < 2; i++ {
		if _, err := d.Decode(); err == nil {
			t.Fatalf("bad object %d decoded", i)
		}
	}
	m, err := d.Decode()
	if err != nil || m.Type != AuthReq {
		t.Fatalf("after bad objects: %+v, %v", m, err)
	}
}

func TestDecoderReadError(t *testing.T) {
	boom := errors.New("boom")
	r := io.MultiReader(strings.NewReader(`{"msgtype":`), iotest.ErrReader(boom))
	if _, err := NewDecoder(r).Decode(); !errors.Is(err, boom) {
		t.Fatalf("Decode = %v, want the reader's error", err)
	}
	if _, err := NewDecoder(iotest.ErrReader(boom)).Decode(); !errors.Is(err, boom) {
		t.Fatalf("Decode = %v, want the reader's error", err)
	}
}

func TestWriteThenDecode(t *testing.T) {
	var buf bytes.Buffer
	for _, g := range golden {
		if err := Write(&buf, g.msg); err != nil {
			t.Fatal(err)
		}
	}
	d := NewDecoder(&buf)
	for _, g := range golden {
		m, err := d.Decode()
		if err != nil {
			t.Fatalf("%s: %v", g.name, err)
		}
		if m.Type != g.msg.Type || m.Status != g.msg.Status || m.UserID != g.msg.UserID {
			t.Fatalf("%s: got %+v", g.name, m)
		}
	}
	if _, err := d.Decode(); !errors.Is(err, io.EOF) {
		t.Fatalf("after the last message: %v, want io.EOF", err)
	}
}
