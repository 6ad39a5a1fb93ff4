package directory

import (
	"bytes"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/pi2pi/pi2pi/internal/wire"
	"github.com/pi2pi/pi2pi/server/netserve"
)

// rawConn opens a clear-text TCP connection from ip.
func rawConn(t *testing.T, h *harness, ip string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", h.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	return c
}

// readAll returns what the server sends until it closes; it fails the test
// if the server keeps the connection open past the deadline.
func readUntilClose(t *testing.T, c net.Conn) []byte {
	t.Helper()
	b, err := io.ReadAll(c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("server kept the connection open; got %q", b)
	}
	return b
}

func replies(t *testing.T, c net.Conn, n int) []wire.Message {
	t.Helper()
	dec := wire.NewDecoder(c)
	var out []wire.Message
	for len(out) < n {
		m, err := dec.Decode()
		if err != nil {
			t.Fatalf("reply %d: %v", len(out)+1, err)
		}
		out = append(out, m)
	}
	return out
}

func stillServing(t *testing.T, h *harness) {
	t.Helper()
	c := rawConn(t, h, "127.0.0.250")
	io.WriteString(c, `{"msgtype":"LOOKUPREQ","userid":"ali","lookup":"bianca"}`)
	if r := replies(t, c, 1)[0]; r.Type != wire.LookupReply {
		t.Fatalf("server no longer answers: %+v", r)
	}
}

func TestBadInput(t *testing.T) {
	lim := netserve.DefaultLimits
	lim.MessageTimeout = 1500 * time.Millisecond
	lim.IdleTimeout = 3 * time.Second
	lim.MaxConnsPerIP = 64
	h := startServer(t, harnessOpts{limits: &lim})

	closes := map[string]string{
		"non-JSON":               "hello server\n",
		"JSON array":             `["AUTHREQ","ali"]`,
		"object without msgtype": `{"userid":"ali","passcode":"1"}`,
		"unknown msgtype":        `{"msgtype":"SHUTDOWN"}`,
		"msgtype not a string":   `{"msgtype":7}`,
		"1 MiB message":          `{"msgtype":"AUTHREQ","userid":"` + strings.Repeat("a", 1<<20) + `"}`,
	}
	for name, in := range closes {
		t.Run("closes on "+name, func(t *testing.T) {
			c := rawConn(t, h, "127.0.0.2")
			if _, err := io.WriteString(c, in); err != nil && !strings.Contains(name, "MiB") {
				t.Fatal(err)
			}
			if b := readUntilClose(t, c); bytes.Contains(b, []byte("msgtype")) {
				t.Fatalf("answered %q", b)
			}
			stillServing(t, h)
		})
	}

	answers := []struct{ name, in, typ, status string }{
		{"wrong type userid", `{"msgtype":"AUTHREQ","userid":5,"passcode":"1"}`, wire.AuthReply, wire.Refused},
		{"wrong type passcode", `{"msgtype":"AUTHREQ","userid":"ali","passcode":[1,2]}`, wire.AuthReply, wire.Refused},
		{"wrong type lookup", `{"msgtype":"LOOKUPREQ","userid":"ali","lookup":{"x":1}}`, wire.LookupReply, wire.NotFound},
		{"missing AUTHREQ fields", `{"msgtype":"AUTHREQ"}`, wire.AuthReply, wire.Refused},
		{"missing passcode", `{"msgtype":"AUTHREQ","userid":"ali"}`, wire.AuthReply, wire.Refused},
		{"missing LOOKUPREQ fields", `{"msgtype":"LOOKUPREQ"}`, wire.LookupReply, wire.NotFound},
		{"200-character userid", `{"msgtype":"AUTHREQ","userid":"` + strings.Repeat("u", 200) + `","passcode":"1"}`, wire.AuthReply, wire.Refused},
		{"control characters in userid", `{"msgtype":"AUTHREQ","userid":"al\u001b[2J\u0007i","passcode":"1"}`, wire.AuthReply, wire.Refused},
		{"logout of someone not logged in", `{"msgtype":"LOGOUTREQ","userid":"ali"}`, wire.LogoutReply, wire.NotFound},
	}
	for _, tc := range answers {
		t.Run("answers "+tc.name, func(t *testing.T) {
			c := rawConn(t, h, "127.0.0.3")
			io.WriteString(c, tc.in)
			r := replies(t, c, 1)[0]
			if r.Type != tc.typ || r.Status != tc.status {
				t.Fatalf("got %s %s, want %s %s", r.Type, r.Status, tc.typ, tc.status)
			}
			stillServing(t, h)
		})
	}

	t.Run("two messages in one write", func(t *testing.T) {
		c := rawConn(t, h, "127.0.0.2")
		io.WriteString(c, `{"msgtype":"LOOKUPREQ","userid":"a","lookup":"b"}{"msgtype":"AUTHREQ","userid":"","passcode":""}`+"\n")
		rs := replies(t, c, 2)
		if rs[0].Type != wire.LookupReply || rs[1].Type != wire.AuthReply {
			t.Fatalf("replies %+v", rs)
		}
	})
	t.Run("one message over many writes", func(t *testing.T) {
		c := rawConn(t, h, "127.0.0.2")
		msg := `{"msgtype":"LOOKUPREQ","userid":"ali","lookup":"bianca"}`
		for i := 0; i < len(msg); i += 5 {
			io.WriteString(c, msg[i:min(i+5, len(msg))])
			time.Sleep(5 * time.Millisecond)
		}
		if r := replies(t, c, 1)[0]; r.Type != wire.LookupReply {
			t.Fatalf("reply %+v", r)
		}
	})
	t.Run("client closes mid-message", func(t *testing.T) {
		before := h.srv.Open()
		c := rawConn(t, h, "127.0.0.2")
		io.WriteString(c, `{"msgtype":"AUTHREQ","userid":"al`)
		c.Close()
		waitFor(t, func() bool { return h.srv.Open() <= before })
		stillServing(t, h)
	})
	t.Run("one byte per second is dropped", func(t *testing.T) {
		c := rawConn(t, h, "127.0.0.2")
		msg := `{"msgtype":"LOOKUPREQ","userid":"ali","lookup":"bianca"}`
		start := time.Now()
		var werr error
		for i := 0; i < len(msg) && werr == nil && time.Since(start) < 6*time.Second; i++ {
			_, werr = c.Write([]byte{msg[i]})
			time.Sleep(time.Second)
		}
		b := readUntilClose(t, c)
		if bytes.Contains(b, []byte("msgtype")) {
			t.Fatalf("slow sender was answered: %q", b)
		}
		if el := time.Since(start); el > 5*time.Second {
			t.Fatalf("slow sender kept for %v, want about %v", el, lim.MessageTimeout)
		}
		stillServing(t, h)
	})
	t.Run("1000 idle connections", func(t *testing.T) {
		var conns []net.Conn
		for i := 0; i < 1000; i++ {
			// Spread over 20 addresses; the per-address cap refuses the rest.
			ip := net.IPv4(127, 0, 1, byte(1+i%20)).String()
			d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
			c, err := d.Dial("tcp", h.addr)
			if err != nil {
				t.Fatalf("connection %d: %v", i, err)
			}
			conns = append(conns, c)
		}
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		stillServing(t, h)
		if open := h.srv.Open(); open > 20*lim.MaxConnsPerIP+2 {
			t.Errorf("%d connections open, per-address cap is %d", open, lim.MaxConnsPerIP)
		}
		// Idle connections are closed after IdleTimeout.
		waitForLong(t, lim.IdleTimeout+3*time.Second, func() bool { return h.srv.Open() == 0 })
		stillServing(t, h)
	})
}

func waitForLong(t *testing.T, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("condition not met within %v", d)
}
