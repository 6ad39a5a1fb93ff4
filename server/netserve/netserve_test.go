package netserve

import (
	"context"
	"io"
	"net"
	"testing"
	"time"

	"github.com/pi2pi/pi2pi/internal/transport"
	"github.com/pi2pi/pi2pi/internal/wire"
)

func echoStatus(_ context.Context, p Peer, m wire.Message) (wire.Message, bool) {
	if m.Type != wire.LookupReq {
		return wire.Message{}, false
	}
	return wire.Message{Type: wire.LookupReply, Status: wire.NotFound, Address: p.IP.String()}, true
}

func serve(t *testing.T, lim Limits) (*Server, string) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{Transport: &transport.Config{Mode: transport.Plain}, Handler: HandlerFunc(echoStatus), Limits: lim}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Serve(ctx, l); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return s, l.Addr().String()
}

func dialFrom(t *testing.T, ip, addr string) net.Conn {
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	return c
}

func TestPerAddressCap(t *testing.T) {
	lim := DefaultLimits
	lim.MaxConnsPerIP = 3
	s, addr := serve(t, lim)
	for i := 0; i < 3; i++ {
		dialFrom(t, "127.0.0.2", addr)
	}
	for i := 0; i < 100 && s.Open() < 3; i++ {
		time.Sleep(5 * time.Millisecond)
	}
	over := dialFrom(t, "127.0.0.2", addr)
	if _, err := io.ReadAll(over); err != nil {
		t.Fatalf("the 4th connection from one address was not closed at once: %v", err)
	}
	other := dialFrom(t, "127.0.0.3", addr)
	io.WriteString(other, `{"msgtype":"LOOKUPREQ"}`)
	m, err := wire.NewDecoder(other).Decode()
	if err != nil || m.Address != "127.0.0.3" {
		t.Fatalf("another address: %+v %v", m, err)
	}
}

func TestShutdownClosesConnections(t *testing.T) {
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	s := &Server{Transport: &transport.Config{Mode: transport.Plain}, Handler: HandlerFunc(echoStatus), Limits: DefaultLimits}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- s.Serve(ctx, l) }()
	c := dialFrom(t, "127.0.0.2", l.Addr().String())
	for i := 0; i < 100 && s.Open() < 1; i++ {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return")
	}
	if _, err := io.ReadAll(c); err != nil {
		t.Fatalf("connection not closed on shutdown: %v", err)
	}
}

// TestNothingCarriesOverBetweenConnections: what a connection leaves
// unread when it ends is not served on the next one (read buffers are
// reused between connections).
func TestNothingCarriesOverBetweenConnections(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	echo := func(_ context.Context, p Peer, m wire.Message) (wire.Message, bool) {
		if m.Type != wire.LookupReq {
			return wire.Message{}, false
		}
		return wire.Message{Type: wire.LookupReply, Status: wire.NotFound, Answer: m.UserID}, true
	}
	s := &Server{Transport: &transport.Config{Mode: transport.Plain}, Handler: HandlerFunc(echo), Limits: DefaultLimits}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Serve(ctx, l); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	addr := l.Addr().String()
	for i := 0; i < 20; i++ {
		c := dialFrom(t, "127.0.0.2", addr)
		// The unknown msgtype closes the connection with the rest unread.
		io.WriteString(c, `{"msgtype":"SHUTDOWN"}{"msgtype":"LOOKUPREQ","userid":"left"}{"msgtype":"LOOK`)
		if b, _ := io.ReadAll(c); len(b) > 0 {
			t.Fatalf("answered %q", b)
		}
		c.Close()
		c = dialFrom(t, "127.0.0.3", addr)
		io.WriteString(c, `{"msgtype":"LOOKUPREQ","userid":"new"}`)
		m, err := wire.NewDecoder(c).Decode()
		if err != nil || m.Answer != "new" {
			t.Fatalf("connection after an unfinished one: %+v %v", m, err)
		}
		c.Close()
	}
}

// TestMessageDeadlines: the rest of a message must come within
// MessageTimeout of its first byte, also when that byte arrived with the
// previous message; a lone newline after a message does not start that
// clock.
func TestMessageDeadlines(t *testing.T) {
	lim := DefaultLimits
	lim.MessageTimeout = 300 * time.Millisecond
	lim.IdleTimeout = 10 * time.Second
	_, addr := serve(t, lim)

	t.Run("stalled after a complete message", func(t *testing.T) {
		c := dialFrom(t, "127.0.0.2", addr)
		start := time.Now()
		io.WriteString(c, `{"msgtype":"LOOKUPREQ"}{"msgtype":"LOOK`)
		d := wire.NewDecoder(c)
		if _, err := d.Decode(); err != nil {
			t.Fatalf("first reply: %v", err)
		}
		if _, err := d.Decode(); err == nil {
			t.Fatal("answered half a message")
		}
		if el := time.Since(start); el > 3*time.Second {
			t.Fatalf("half a message kept the connection %v; MessageTimeout is %v", el, lim.MessageTimeout)
		}
	})
	t.Run("newline in a packet of its own", func(t *testing.T) {
		c := dialFrom(t, "127.0.0.2", addr)
		d := wire.NewDecoder(c)
		io.WriteString(c, `{"msgtype":"LOOKUPREQ"}`)
		if _, err := d.Decode(); err != nil {
			t.Fatalf("first reply: %v", err)
		}
		io.WriteString(c, "\n")
		time.Sleep(3 * lim.MessageTimeout)
		io.WriteString(c, `{"msgtype":"LOOKUPREQ"}`)
		if _, err := d.Decode(); err != nil {
			t.Fatalf("a newline after a message started the message clock: %v", err)
		}
	})
}
