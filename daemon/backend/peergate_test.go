package backend

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pi2pi/pi2pi/daemon/internal/leaktest"
	"github.com/pi2pi/pi2pi/internal/control"
	"github.com/pi2pi/pi2pi/internal/transport"
	"github.com/pi2pi/pi2pi/internal/wire"
)

// countingHandler counts the log records that reach it.
type countingHandler struct{ n *atomic.Int64 }

func (h countingHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelInfo }
func (h countingHandler) Handle(context.Context, slog.Record) error    { h.n.Add(1); return nil }
func (h countingHandler) WithAttrs([]slog.Attr) slog.Handler           { return h }
func (h countingHandler) WithGroup(string) slog.Handler                { return h }

// callee starts ali at 127.0.0.2 and bianca at 127.0.0.3 (waiting for a
// chat), bianca with the given timeout and a log whose lines are counted.
func callee(t *testing.T, timeout time.Duration) (srv *fakeServer, biancaT *term, ali, bianca *user, logLines *atomic.Int64) {
	leaktest.Check(t)
	srv = newFakeServer()
	port := freePort(t, "127.0.0.2", "127.0.0.3")
	logLines = &atomic.Int64{}
	aliT := newTerm(t, srv, transport.Plain, "127.0.0.2", port)
	biancaT = newTerm(t, srv, transport.Plain, "127.0.0.3", port, func(o *Options) {
		o.Timeout = timeout
		o.Log = slog.New(countingHandler{logLines})
	})
	ali, bianca = attach(t, aliT.sock), attach(t, biancaT.sock)
	ali.LogIn("ali", "1234")
	bianca.LogIn("bianca", "5678")
	bianca.Must(control.Request{Op: control.OpWait})
	return srv, biancaT, ali, bianca, logLines
}

// realCall checks that ali can still call bianca, and ends the call
// (bianca answers the end as pi2pictl does).
func realCall(t *testing.T, ali, bianca *user) {
	t.Helper()
	ali.Must(control.Request{Op: control.OpChat, UserID: "bianca"})
	ali.End()
	bianca.Next(control.EventChatEnd)
	ali.Next(control.EventChatEnd)
	ali.WaitState("logged-in")
}

// TestRefusalRevealsNoThirdParty: a stranger (no login at all) who sends
// CONNECTREQ in someone's name gets the same answer, byte for byte,
// whether that someone is logged in (elsewhere) or not: the callee's
// refusal must not tell the stranger who is logged in.
func TestRefusalRevealsNoThirdParty(t *testing.T) {
	_, biancaT, _, _, _ := callee(t, 5*time.Second)
	replies := map[string]string{}
	for _, initiator := range []string{"ali", "zed"} {
		c := rawPeer(t, "127.0.0.9", biancaT)
		fmt.Fprintf(c, `{"msgtype":"CONNECTREQ","initiator":%q}`+"\n", initiator)
		line, err := bufio.NewReader(c).ReadString('\n')
		if err != nil {
			t.Fatalf("CONNECTREQ as %s: %v", initiator, err)
		}
		replies[initiator] = line
	}
	if replies["ali"] != replies["zed"] {
		t.Fatalf("the refusal tells a logged-in user (ali: %q) from an unknown one (zed: %q)", replies["ali"], replies["zed"])
	}
	if !strings.Contains(replies["ali"], `"REFUSED"`) {
		t.Fatalf("reply %q", replies["ali"])
	}
}

// TestRequestFloodFromOneAddress: a stranger sends CONNECTREQ after
// CONNECTREQ from one address. After a small burst the callee drops them
// before any work: it makes a bounded number of lookups and log lines,
// and a real call from ali still goes through.
func TestRequestFloodFromOneAddress(t *testing.T) {
	srv, biancaT, ali, bianca, logLines := callee(t, 5*time.Second)
	before := srv.Lookups()
	logBefore := logLines.Load()
	const flood = 60
	answered := 0
	for i := 0; i < flood; i++ {
		c := rawPeer(t, "127.0.0.9", biancaT)
		if _, err := io.WriteString(c, `{"msgtype":"CONNECTREQ","initiator":"zed"}`+"\n"); err != nil {
			c.Close()
			continue // dropped before we wrote
		}
		if _, err := wire.NewDecoder(c).Decode(); err == nil {
			answered++
		}
		c.Close()
	}
	lookups := srv.Lookups() - before
	t.Logf("%d of %d requests answered, %d lookups, %d log lines", answered, flood, lookups, logLines.Load()-logBefore)
	if lookups > PeerBurst+2 {
		t.Errorf("%d requests from one address made %d lookups; want at most about %d", flood, lookups, PeerBurst)
	}
	if answered > PeerBurst+2 {
		t.Errorf("%d of %d requests were answered", answered, flood)
	}
	// The lines about the requests are rate-limited; each request let
	// through also logs its two state changes (verifying and back).
	if n, most := logLines.Load()-logBefore, int64(peerLogBurst+2*PeerBurst+4); n > most {
		t.Errorf("the flood wrote %d log lines; want at most %d", n, most)
	}
	realCall(t, ali, bianca)
}

// TestPeerConnectionCaps: idle connections are capped per address and
// in total; the ones over a cap are closed at once, the others stay
// served, and a real call still goes through.
func TestPeerConnectionCaps(t *testing.T) {
	_, biancaT, ali, bianca, _ := callee(t, time.Minute)
	dial := func(ip string) net.Conn {
		c := rawPeer(t, ip, biancaT)
		_ = c.SetDeadline(time.Now().Add(30 * time.Second))
		return c
	}
	closedAtOnce := func(c net.Conn) bool {
		_, err := c.Read(make([]byte, 1))
		var ne net.Error
		return !(errors.As(err, &ne) && ne.Timeout())
	}
	// Per address: the first MaxPeerConnsPerIP are kept.
	var kept []net.Conn
	for i := 0; i < MaxPeerConnsPerIP; i++ {
		kept = append(kept, dial("127.0.0.9"))
	}
	extra := dial("127.0.0.9")
	if !closedAtOnce(extra) {
		t.Fatalf("connection %d from one address was not closed", MaxPeerConnsPerIP+1)
	}
	// The kept ones are served: each gets its answer.
	for _, c := range kept {
		m := connectReply(t, c, `{"msgtype":"CONNECTREQ","initiator":"zed"}`+"\n")
		if m.Status != wire.Refused {
			t.Fatalf("%+v", m)
		}
		c.Close()
	}
	// In total: MaxPeerConns from many addresses, then one more.
	var all []net.Conn
	for i := 0; len(all) < MaxPeerConns; i++ {
		for j := 0; j < MaxPeerConnsPerIP && len(all) < MaxPeerConns; j++ {
			all = append(all, dial(fmt.Sprintf("127.0.1.%d", i+1)))
		}
	}
	// Wait until bianca holds them all: one more from a fresh address is
	// then closed.
	deadline := time.Now().Add(20 * time.Second)
	for {
		c := dial("127.0.2.1")
		_ = c.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
		if closedAtOnce(c) {
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatalf("connection %d in total was not closed", MaxPeerConns+1)
		}
	}
	for _, c := range all {
		c.Close()
	}
	// Closed connections give their slots back.
	deadline = time.Now().Add(20 * time.Second)
	for {
		c := dial("127.0.2.2")
		if _, err := io.WriteString(c, `{"msgtype":"CONNECTREQ","initiator":"zed"}`+"\n"); err == nil {
			if _, err := wire.NewDecoder(c).Decode(); err == nil {
				c.Close()
				break
			}
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("the slots were not given back")
		}
		time.Sleep(50 * time.Millisecond)
	}
	realCall(t, ali, bianca)
}

// TestPeerGateGroupsIPv6By64: the per-address limits count an IPv6 /64
// as one address (one host commonly holds a whole /64), IPv4 addresses
// one by one.
func TestPeerGateGroupsIPv6By64(t *testing.T) {
	g := newPeerGate()
	for i := 0; i < MaxPeerConnsPerIP; i++ {
		ip := netip.MustParseAddr(fmt.Sprintf("2001:db8:1:2::%x", i+1))
		if ok, why := g.enter(ip); !ok {
			t.Fatalf("connection %d from the /64 refused: %s", i+1, why)
		}
	}
	if ok, _ := g.enter(netip.MustParseAddr("2001:db8:1:2:ffff::1")); ok {
		t.Fatal("another address of the same /64 got past the per-address cap")
	}
	if ok, why := g.enter(netip.MustParseAddr("2001:db8:1:3::1")); !ok {
		t.Fatalf("another /64 refused: %s", why)
	}
	for i := 0; i < MaxPeerConnsPerIP; i++ {
		if ok, why := g.enter(netip.MustParseAddr(fmt.Sprintf("192.0.2.%d", i+1))); !ok {
			t.Fatalf("IPv4 address %d refused: %s", i+1, why)
		}
	}
	g.leave(netip.MustParseAddr("2001:db8:1:2::1"))
	if ok, why := g.enter(netip.MustParseAddr("2001:db8:1:2:ffff::1")); !ok {
		t.Fatalf("a slot given back was not reused: %s", why)
	}
}

// TestVerifiedCallerIsNotLimited: the per-address limit is for requests
// that come to nothing; a real user may call the same terminal again and
// again (PeerBurst is spent three times over here) without being dropped.
func TestVerifiedCallerIsNotLimited(t *testing.T) {
	_, _, ali, bianca, _ := callee(t, 5*time.Second)
	for i := 0; i < 3*PeerBurst; i++ {
		realCall(t, ali, bianca)
	}
}
