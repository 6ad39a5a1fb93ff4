package transport

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"regexp"
	"testing"
	"time"
)

// oldSafetyCode is the code pi2pi showed before issue 11: digits decimal
// digits of SHA-256 over the two long-term keys (12 digits then).
func oldSafetyCode(a, b ed25519.PublicKey, digits int) string {
	if bytes.Compare(a, b) > 0 {
		a, b = b, a
	}
	h := sha256.New()
	h.Write([]byte("pi2pi safety code v1\x00"))
	h.Write(a)
	h.Write(b)
	mod := uint64(1)
	for i := 0; i < digits; i++ {
		mod *= 10
	}
	return fmt.Sprintf("%0*d", digits, binary.BigEndian.Uint64(h.Sum(nil)[:8])%mod)
}

// TestSafetyCodeFormat: five groups of four digits, zero-padded.
func TestSafetyCodeFormat(t *testing.T) {
	re := regexp.MustCompile(`^[0-9]{4}( [0-9]{4}){4}$`)
	for _, km := range [][]byte{make([]byte, 16), bytes.Repeat([]byte{0xff}, 16), []byte("0123456789abcdef")} {
		if c := formatSafetyCode(km); !re.MatchString(c) {
			t.Errorf("formatSafetyCode(%x) = %q", km, c)
		}
	}
	if c := formatSafetyCode(make([]byte, 16)); c != "0000 0000 0000 0000 0000" {
		t.Errorf("zero gives %q", c)
	}
}

// sessionCodes dials srv from cli through nothing and returns the codes
// both ends see.
func sessionCodes(t *testing.T, cli, srv *Identity) (client, server string) {
	t.Helper()
	l, ch := listen(t, secure(srv), "", nil)
	c, err := secure(cli).Dial(testCtx(t), l.Addr().String(), PinKey(srv.Public))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s := wait(t, ch)
	if s.err != nil {
		t.Fatal(s.err)
	}
	client, err = c.SafetyCode()
	if err != nil {
		t.Fatal(err)
	}
	server, err = s.conn.SafetyCode()
	if err != nil {
		t.Fatal(err)
	}
	return client, server
}

// TestSafetyCodeIsPerSession: both ends of a connection see the same
// code; the next connection between the same two keys has another one,
// so the code is not a function of the keys that anyone could search
// beforehand.
func TestSafetyCodeIsPerSession(t *testing.T) {
	a, b := newIdentity(t), newIdentity(t)
	c1, s1 := sessionCodes(t, a, b)
	if c1 != s1 {
		t.Fatalf("client sees %s, server %s", c1, s1)
	}
	c2, s2 := sessionCodes(t, a, b)
	if c2 != s2 {
		t.Fatalf("client sees %s, server %s", c2, s2)
	}
	if c1 == c2 {
		t.Fatalf("two sessions between the same keys share the code %s", c1)
	}
	plain := &Conn{}
	if _, err := plain.SafetyCode(); err == nil {
		t.Fatal("a plain connection has a safety code")
	}
}

// TestSafetyCodeCollisionSearch is the attack of issue 11, scaled down.
// A lying directory makes up two keys of its own, m1 for ali to see as
// bianca's and m2 for bianca to see as ali's, such that the codes the two
// victims compute collide. Against a code over the long-term keys this
// is a birthday search done beforehand: with the code cut to 4 digits it
// succeeds after about a hundred keys a side (with today's 12 it took 22 s
// on one core). Against the session code it does not even start: the
// man in the middle then relays two TLS sessions whose codes come from
// their handshakes, and with the very keys the search found the two
// victims see different codes.
func TestSafetyCodeCollisionSearch(t *testing.T) {
	ali, bianca := newIdentity(t), newIdentity(t)
	const digits = 4
	seenByAli := map[string]*Identity{}    // code(ali, m1) → m1
	seenByBianca := map[string]*Identity{} // code(bianca, m2) → m2
	var m1, m2 *Identity
	tries := 0
	for m1 == nil && tries < 100000 {
		tries++
		k := newIdentity(t)
		ca, cb := oldSafetyCode(ali.Public, k.Public, digits), oldSafetyCode(bianca.Public, k.Public, digits)
		if other, ok := seenByBianca[ca]; ok {
			m1, m2 = k, other
			break
		}
		if other, ok := seenByAli[cb]; ok {
			m1, m2 = other, k
			break
		}
		seenByAli[ca], seenByBianca[cb] = k, k
	}
	if m1 == nil {
		t.Fatalf("no collision of the %d-digit long-term code after %d keys", digits, tries)
	}
	forged := oldSafetyCode(ali.Public, m1.Public, digits)
	if forged != oldSafetyCode(bianca.Public, m2.Public, digits) {
		t.Fatal("the search found no collision")
	}
	t.Logf("long-term code forged after %d keys: ali and bianca would both see %s", tries, forged)

	// The same man in the middle, with the same keys, against session
	// codes: ali talks TLS to him as m1, he talks TLS to bianca as m2.
	l, ch := listen(t, secure(bianca), "", nil)
	proxy, upCodes := relayWithCodes(t, m1, m2, l.Addr().String())
	c, err := secure(ali).Dial(testCtx(t), proxy, PinKey(m1.Public))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := roundTrip(c); err != nil {
		t.Fatalf("the man in the middle does not relay: %v", err)
	}
	s := wait(t, ch)
	if s.err != nil {
		t.Fatal(s.err)
	}
	aliCode, _ := c.SafetyCode()
	biancaCode, _ := s.conn.SafetyCode()
	mitm := <-upCodes
	if aliCode == biancaCode {
		t.Fatalf("through the man in the middle both see %s", aliCode)
	}
	if mitm[0] != aliCode || mitm[1] != biancaCode {
		t.Fatalf("the man in the middle's two sessions have codes %v; the victims see %s and %s", mitm, aliCode, biancaCode)
	}
	t.Logf("session codes through the man in the middle: ali %s, bianca %s", aliCode, biancaCode)
}

// relayWithCodes is a man in the middle that presents down to clients
// and up to target, relays, and reports the safety codes of both of its
// sessions (towards the client, towards the target).
func relayWithCodes(t *testing.T, down, up *Identity, target string) (addr string, codes <-chan [2]string) {
	t.Helper()
	acceptAny := func(ed25519.PublicKey) error { return nil }
	l, err := Listen(secure(down), "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan [2]string, 1)
	acceptEach(t, l, func(raw net.Conn) {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		d, err := l.Config.Server(ctx, raw, acceptAny)
		if err != nil {
			return
		}
		defer d.Close()
		u, err := secure(up).Dial(ctx, target, acceptAny)
		if err != nil {
			return
		}
		defer u.Close()
		dc, _ := d.SafetyCode()
		uc, _ := u.SafetyCode()
		ch <- [2]string{dc, uc}
		d.SetDeadline(time.Now().Add(3 * time.Second))
		u.SetDeadline(time.Now().Add(3 * time.Second))
		go func() { io.Copy(u, d); u.Close() }()
		io.Copy(d, u)
	})
	return l.Addr().String(), ch
}
