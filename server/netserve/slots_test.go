package netserve

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// Issue 11 item 9: a connection that sends no request within FirstTimeout
// is closed, long before the idle limit between requests.
func TestFirstRequestDeadline(t *testing.T) {
	lim := DefaultLimits
	lim.FirstTimeout, lim.IdleTimeout = 300*time.Millisecond, time.Hour
	s, addr := serve(t, lim)
	c := dialFrom(t, "127.0.0.2", addr)
	_ = c.SetDeadline(time.Now().Add(time.Minute))
	if _, err := io.ReadAll(c); err != nil {
		t.Fatalf("a silent connection was not closed: %v", err)
	}
	waitOpen(t, s, 0)
	// After a first request in time, the idle limit applies, not the first.
	c = dialFrom(t, "127.0.0.2", addr)
	_ = c.SetDeadline(time.Now().Add(time.Minute))
	r := bufio.NewReader(c)
	io.WriteString(c, `{"msgtype":"LOOKUPREQ"}`)
	if _, err := r.ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * lim.FirstTimeout) // three first-request limits, well under the idle one
	io.WriteString(c, `{"msgtype":"LOOKUPREQ"}`)
	if _, err := r.ReadString('\n'); err != nil {
		t.Fatalf("a connection that made its first request in time was closed at the first-request limit: %v", err)
	}
}

func waitOpen(t *testing.T, s *Server, n int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for s.Open() != n {
		if time.Now().After(deadline) {
			t.Fatalf("%d connections open, want %d", s.Open(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Issue 11 item 9: the per-address cap counts an IPv6 /64 as one source.
func TestPerAddressCapGroupsIPv6By64(t *testing.T) {
	s := &Server{Limits: Limits{MaxConns: 100, MaxConnsPerIP: 3}, Log: slog.New(slog.DiscardHandler)}
	s.perIP = map[netip.Prefix]int{}
	s.conns = map[net.Conn]struct{}{}
	admit := func(ip string) bool {
		a, b := net.Pipe()
		t.Cleanup(func() { a.Close(); b.Close() })
		return s.admit(a, netip.MustParseAddr(ip))
	}
	for _, ip := range []string{"2001:db8:1:2::1", "2001:db8:1:2::2", "2001:db8:1:2:ffff::9"} {
		if !admit(ip) {
			t.Fatalf("%s refused under the cap", ip)
		}
	}
	if admit("2001:db8:1:2:abcd::1") {
		t.Fatal("a fourth address of the same /64 was admitted")
	}
	if !admit("2001:db8:1:3::1") || !admit("192.0.2.1") || !admit("192.0.2.2") {
		t.Fatal("other sources were refused")
	}
}

// Issue 11 item 9: a TLS client that reaches a plain server gets clear text
// back, which is what tells it the server runs in plain mode.
func TestPlainServerAnswersTLSInClearText(t *testing.T) {
	_, addr := serve(t, DefaultLimits)
	raw, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	_ = raw.SetDeadline(time.Now().Add(30 * time.Second))
	err = tls.Client(raw, &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS13}).HandshakeContext(context.Background())
	var rh tls.RecordHeaderError
	if !errors.As(err, &rh) {
		t.Fatalf("handshake error %v, want a RecordHeaderError (clear text came back)", err)
	}
	if !strings.HasPrefix(plainNotice, string(rh.RecordHeader[:])) {
		t.Fatalf("record header %q is not the start of the notice", rh.RecordHeader)
	}
}
