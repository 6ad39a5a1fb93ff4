package peerlink

import (
	"bytes"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/pi2pi/pi2pi/internal/wire"
)

func TestRequestAccept(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	done := make(chan *Chat, 1)
	go func() {
		in, err := ReadRequest(b, time.Second)
		if err != nil || in.Initiator != "ali" {
			t.Errorf("ReadRequest: %v %+v", err, in)
			done <- nil
			return
		}
		ch, err := in.Accept()
		if err != nil {
			t.Error(err)
		}
		done <- ch
	}()
	chat, err := Request(a, "Ali", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	callee := <-done
	go func() { _ = chat.Send([]byte("Hello, are you there?\n")); chat.End() }()
	var got strings.Builder
	if err := callee.Receive(func(p []byte) error { got.Write(p); return nil }); err != nil {
		t.Fatal(err)
	}
	if got.String() != "Hello, are you there?\n" {
		t.Fatalf("got %q", got.String())
	}
}

// A course-style peer: JSON without newline, and chat bytes in the same
// write as the CONNECTREPLY. None of them may be lost.
func TestCourseStylePeer(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	go func() {
		buf := make([]byte, 1024)
		n, _ := b.Read(buf)
		if !bytes.Contains(buf[:n], []byte(`"initiator":"ali"`)) {
			t.Errorf("peer got %q", buf[:n])
		}
		_, _ = b.Write([]byte(`{"msgtype": "CONNECTREPLY", "status": "accepted"}Yes, here I am!`))
		b.Close()
	}()
	chat, err := Request(a, "ali", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var got strings.Builder
	if err := chat.Receive(func(p []byte) error { got.Write(p); return nil }); err != nil {
		t.Fatal(err)
	}
	if got.String() != "Yes, here I am!" {
		t.Fatalf("got %q", got.String())
	}
}

func TestCourseStyleRequest(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	go func() { _, _ = b.Write([]byte(`{"msgtype": "CONNECTREQ", "initiator": "Bianca"}hi`)) }()
	in, err := ReadRequest(a, time.Second)
	if err != nil || in.Initiator != "bianca" {
		t.Fatalf("%v %+v", err, in)
	}
	go func() {
		dec := wire.NewDecoder(b)
		if m, err := dec.Decode(); err != nil || m.Status != wire.Accepted {
			t.Errorf("reply %+v %v", m, err)
		}
		b.Close()
	}()
	chat, err := in.Accept()
	if err != nil {
		t.Fatal(err)
	}
	var got strings.Builder
	_ = chat.Receive(func(p []byte) error { got.Write(p); return nil })
	if got.String() != "hi" {
		t.Fatalf("got %q", got.String())
	}
}

func TestBadRequests(t *testing.T) {
	tests := []struct {
		name, send, reason, err string
	}{
		{"garbage", "GET / HTTP/1.0\r\n\r\n", "malformed request", "expected a JSON object"},
		{"wrong type", `{"msgtype":"AUTHREQ","userid":"ali"}`, "expected CONNECTREQ", "AUTHREQ"},
		{"bad initiator", `{"msgtype":"CONNECTREQ","initiator":"ali; rm -rf /"}`, "bad initiator", "initiator"},
		{"no initiator", `{"msgtype":"CONNECTREQ"}`, "bad initiator", "empty"},
		{"initiator not a string", `{"msgtype":"CONNECTREQ","initiator":7}`, "bad initiator", "empty"},
		{"too big", `{"msgtype":"CONNECTREQ","initiator":"` + strings.Repeat("a", 5000) + `"}`, "malformed request", "over"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := net.Pipe()
			defer a.Close()
			defer b.Close()
			go func() { _, _ = b.Write([]byte(tt.send)) }()
			reply := make(chan wire.Message, 1)
			go func() {
				m, _ := wire.NewDecoder(b).Decode()
				reply <- m
			}()
			_, err := ReadRequest(a, time.Second)
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Fatalf("err = %v, want %q", err, tt.err)
			}
			m := <-reply
			if m.Status != wire.Refused || m.Reason != tt.reason {
				t.Fatalf("reply %+v", m)
			}
		})
	}
}

func TestSilentPeer(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	start := time.Now()
	_, err := ReadRequest(a, 100*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "no CONNECTREQ") || time.Since(start) > time.Second {
		t.Fatalf("err = %v after %s", err, time.Since(start))
	}
	// And the initiator side of a callee that never answers.
	c, d := net.Pipe()
	defer c.Close()
	defer d.Close()
	go func() { _, _ = io.Copy(io.Discard, d) }()
	if _, err := Request(c, "ali", 100*time.Millisecond); err == nil || !strings.Contains(err.Error(), "no CONNECTREPLY") {
		t.Fatalf("err = %v", err)
	}
}

func TestRefused(t *testing.T) {
	for _, tt := range []struct{ reply, reason string }{
		{`{"msgtype":"CONNECTREPLY","status":"REFUSED","reason":"busy"}`, "busy"},
		{`{"msgtype":"CONNECTREPLY","answer":"refused"}`, ""},
	} {
		a, b := net.Pipe()
		go func() {
			_, _ = wire.NewDecoder(b).Decode()
			_, _ = b.Write([]byte(tt.reply))
			b.Close()
		}()
		_, err := Request(a, "ali", time.Second)
		var re *RefusedError
		if !errors.As(err, &re) || re.Reason != tt.reason {
			t.Fatalf("err = %v", err)
		}
		a.Close()
	}
	a, b := net.Pipe()
	defer a.Close()
	go func() { _, _ = wire.NewDecoder(b).Decode(); _, _ = b.Write([]byte("nope")); b.Close() }()
	if _, err := Request(a, "ali", time.Second); !errors.Is(err, ErrProtocol) {
		t.Fatalf("err = %v", err)
	}
}

func TestReceiveFloodIsBounded(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	chat := newChat(a, a)
	const total = 10 << 20
	go func() {
		chunk := bytes.Repeat([]byte("x"), 1<<20)
		for i := 0; i < total/len(chunk); i++ {
			if _, err := b.Write(chunk); err != nil {
				return
			}
		}
		b.Close()
	}()
	n, maxChunk := 0, 0
	err := chat.Receive(func(p []byte) error {
		n += len(p)
		maxChunk = max(maxChunk, len(p))
		return nil
	})
	if err != nil || n != total || maxChunk > ReadChunk {
		t.Fatalf("err %v, got %d bytes, largest chunk %d", err, n, maxChunk)
	}
}

func TestDeliverErrorStops(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	chat := newChat(a, a)
	go func() { _, _ = b.Write([]byte("x")) }()
	stop := errors.New("owner gone")
	if err := chat.Receive(func([]byte) error { return stop }); err != stop {
		t.Fatalf("err = %v", err)
	}
}

func TestPeerVanishes(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		c, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			return
		}
		_, _ = c.Write([]byte("half a mess"))
		c.(*net.TCPConn).SetLinger(0) // RST, not FIN
		c.Close()
	}()
	c, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	chat := newChat(c, c)
	defer chat.Close()
	done := make(chan error, 1)
	go func() { done <- chat.Receive(func([]byte) error { return nil }) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Receive hangs after the peer vanished")
	}
}

// A caller that hangs up after its CONNECTREQ (CTRL-C while the callee
// verified it) gets no chat: Accept refuses instead of starting one for
// a connection nobody is at. A caller that stays gets its chat.
func TestAcceptAfterCallerHungUp(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for _, hangUp := range []bool{true, false} {
		c, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		s, err := l.Accept()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Write([]byte(`{"msgtype":"CONNECTREQ","initiator":"ali"}` + "\n")); err != nil {
			t.Fatal(err)
		}
		in, err := ReadRequest(s, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if hangUp {
			c.Close()
			// The FIN has arrived once a read on s would see it.
			deadline := time.Now().Add(5 * time.Second)
			for !hungUp(s) && time.Now().Before(deadline) {
				time.Sleep(time.Millisecond)
			}
		}
		_, err = in.Accept()
		if hangUp != (err != nil) {
			t.Errorf("caller hung up %v: Accept: %v", hangUp, err)
		}
		c.Close()
		s.Close()
	}
}
