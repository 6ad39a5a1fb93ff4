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
	"syscall"
	"testing"
	"time"

	"github.com/pi2pi/pi2pi/internal/wire"
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
	s.conns = map[net.Conn]*slot{}
	admit := func(ip string) bool {
		a, b := net.Pipe()
		t.Cleanup(func() { a.Close(); b.Close() })
		return s.admit(a, netip.MustParseAddr(ip)) != nil
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

// Issue 11 item 9: when every slot is taken, a newcomer closes the
// connection that has waited longest for its client, never one whose
// request is being answered; only when all are busy is it refused.
func TestFullServerEvictsTheLongestWaiting(t *testing.T) {
	lim := DefaultLimits
	lim.MaxConns, lim.FirstTimeout, lim.IdleTimeout = 3, time.Hour, time.Hour
	release := make(chan struct{})
	entered := make(chan struct{}, 10)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{Handler: HandlerFunc(func(ctx context.Context, p Peer, m wire.Message) (wire.Message, bool) {
		if m.UserID == "block" {
			entered <- struct{}{}
			<-release
		}
		return echoStatus(ctx, p, m)
	}), Limits: lim}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Serve(ctx, l); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	addr := l.Addr().String()
	request := func(c net.Conn, user string) error {
		io.WriteString(c, `{"msgtype":"LOOKUPREQ","userid":"`+user+`"}`)
		_, err := bufio.NewReader(c).ReadString('\n')
		return err
	}

	oldest := dialFrom(t, "127.0.0.2", addr) // silent
	waitOpen(t, s, 1)
	younger := dialFrom(t, "127.0.0.3", addr) // one request, then waits
	if err := request(younger, "x"); err != nil {
		t.Fatal(err)
	}
	busy := dialFrom(t, "127.0.0.4", addr) // its request is being answered
	_ = busy.SetDeadline(time.Now().Add(time.Minute))
	io.WriteString(busy, `{"msgtype":"LOOKUPREQ","userid":"block"}`)
	<-entered

	newcomer := dialFrom(t, "127.0.0.5", addr)
	if err := request(newcomer, "x"); err != nil {
		t.Fatalf("a newcomer to a full server was not served: %v", err)
	}
	_ = oldest.SetDeadline(time.Now().Add(time.Minute))
	if _, err := io.ReadAll(oldest); err != nil && !isReset(err) {
		t.Fatalf("the longest-waiting connection was not closed: %v", err)
	}
	if err := request(younger, "x"); err != nil {
		t.Fatalf("a younger waiting connection was closed instead: %v", err)
	}
	if s.Evicted() != 1 || s.Open() != 3 {
		t.Fatalf("evicted %d, open %d; want 1 and 3", s.Evicted(), s.Open())
	}
	close(release)
	if _, err := bufio.NewReader(busy).ReadString('\n'); err != nil {
		t.Fatalf("the connection being answered lost its reply: %v", err)
	}
}

func TestFullServerOfBusyConnectionsRefuses(t *testing.T) {
	lim := DefaultLimits
	lim.MaxConns = 1
	release := make(chan struct{})
	defer close(release)
	entered := make(chan struct{}, 1)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{Handler: HandlerFunc(func(ctx context.Context, p Peer, m wire.Message) (wire.Message, bool) {
		entered <- struct{}{}
		<-release
		return echoStatus(ctx, p, m)
	}), Limits: lim}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Serve(ctx, l); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	busy := dialFrom(t, "127.0.0.2", l.Addr().String())
	io.WriteString(busy, `{"msgtype":"LOOKUPREQ"}`)
	<-entered
	over := dialFrom(t, "127.0.0.3", l.Addr().String())
	_ = over.SetDeadline(time.Now().Add(time.Minute))
	if _, err := io.ReadAll(over); err != nil && !isReset(err) {
		t.Fatalf("a connection beyond a server full of busy ones was not closed: %v", err)
	}
	if s.Evicted() != 0 {
		t.Fatal("a busy connection was evicted")
	}
}

func isReset(err error) bool { return errors.Is(err, syscall.ECONNRESET) }
