package transport

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pi2pi/pi2pi/internal/wire"
)

// newIdentity returns a fresh in-memory identity.
func newIdentity(t testing.TB) *Identity {
	t.Helper()
	id, err := GenerateIdentity()
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func secure(id *Identity) *Config { return &Config{Mode: Secure, Identity: id} }

// testCtx bounds every step of a test so that a regression shows up as a
// failure, not as a hung test run.
func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// served is what the server side of one connection ended with.
type served struct {
	conn *Conn
	err  error
}

// listen starts a listener for cfg on addr ("127.0.0.1:0" when empty) that
// runs the server side of each accepted connection with verify and reports
// it on the returned channel. The handler answers each wire message with a
// CONNECTREPLY ACCEPTED.
func listen(t *testing.T, cfg *Config, addr string, verify VerifyFunc) (*Listener, <-chan served) {
	t.Helper()
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	l, err := Listen(cfg, addr)
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan served, 16)
	acceptEach(t, l, func(raw net.Conn) {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		c, err := l.Config.Server(ctx, raw, verify)
		ch <- served{c, err}
		if err != nil {
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(3 * time.Second))
		d := wire.NewDecoder(c)
		for {
			if _, err := d.Decode(); err != nil {
				return
			}
			if wire.Write(c, wire.Message{Type: wire.ConnectReply, Status: wire.Accepted}) != nil {
				return
			}
		}
	})
	return l, ch
}

// acceptEach runs handle in its own goroutine for each connection l
// accepts, until the test ends and every handler has returned.
func acceptEach(t *testing.T, l *Listener, handle func(raw net.Conn)) {
	var wg sync.WaitGroup
	t.Cleanup(func() { l.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			raw, err := l.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				handle(raw)
			}()
		}
	}()
}

// roundTrip sends a CONNECTREQ on c and reads the reply.
func roundTrip(c net.Conn) error {
	c.SetDeadline(time.Now().Add(3 * time.Second))
	if err := wire.Write(c, wire.Message{Type: wire.ConnectReq, Initiator: "ali"}); err != nil {
		return err
	}
	m, err := wire.NewDecoder(c).Decode()
	if err != nil {
		return err
	}
	if m.Type != wire.ConnectReply || m.Status != wire.Accepted {
		return errors.New("unexpected reply " + m.Type)
	}
	return nil
}

func wait(t *testing.T, ch <-chan served) served {
	t.Helper()
	select {
	case s := <-ch:
		return s
	case <-time.After(5 * time.Second):
		t.Fatal("server side did not finish its handshake")
		return served{}
	}
}

func TestSecureHandshake(t *testing.T) {
	srvID, cliID := newIdentity(t), newIdentity(t)
	l, ch := listen(t, secure(srvID), "", PinKey(cliID.Public))
	c, err := secure(cliID).Dial(testCtx(t), l.Addr().String(), PinKey(srvID.Public))
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	defer c.Close()
	s := wait(t, ch)
	if s.err != nil {
		t.Fatalf("server handshake: %v", s.err)
	}
	if !c.Secure() || !s.conn.Secure() {
		t.Error("connection is not marked secure")
	}
	if !c.PeerKey().Equal(srvID.Public) {
		t.Error("client sees a key other than the server's")
	}
	if !s.conn.PeerKey().Equal(cliID.Public) {
		t.Error("server sees a key other than the client's")
	}
	st := c.tls.ConnectionState()
	if st.Version != tls.VersionTLS13 {
		t.Errorf("TLS version %x, want TLS 1.3", st.Version)
	}
	if st.DidResume {
		t.Error("first connection claims to be resumed")
	}
	if got := s.conn.RemoteIP(); got != netip.MustParseAddr("127.0.0.1") {
		t.Errorf("server sees client at %v", got)
	}
	if err := roundTrip(c); err != nil {
		t.Fatalf("message over TLS: %v", err)
	}
	// CloseWrite sends close_notify: the server's decoder sees a clean
	// end and closes its side, which we read as EOF.
	if err := c.CloseWrite(); err != nil {
		t.Fatalf("CloseWrite: %v", err)
	}
	c.SetReadDeadline(time.Now().Add(3 * time.Second))
	if n, err := c.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Fatalf("after CloseWrite: read %d, %v; want EOF", n, err)
	}
}

func TestPlainConnection(t *testing.T) {
	cfg := &Config{Mode: Plain}
	l, ch := listen(t, cfg, "", nil)
	c, err := cfg.Dial(testCtx(t), l.Addr().String(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s := wait(t, ch)
	if s.err != nil {
		t.Fatal(s.err)
	}
	if c.Secure() || s.conn.Secure() || c.PeerKey() != nil || s.conn.PeerKey() != nil {
		t.Error("a plain connection claims security or a peer key")
	}
	if err := roundTrip(c); err != nil {
		t.Fatal(err)
	}
	if err := c.CloseWrite(); err != nil {
		t.Fatalf("CloseWrite: %v", err)
	}
}

// TestPlainBytesOnWire checks what a plain connection is: the course handouts' JSON,
// byte for byte, with nothing added.
func TestPlainBytesOnWire(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	got := make(chan []byte, 1)
	go func() {
		raw, err := l.Accept()
		if err != nil {
			return
		}
		defer raw.Close()
		raw.SetDeadline(time.Now().Add(3 * time.Second))
		b, _ := io.ReadAll(raw)
		got <- b
	}()
	c, err := (&Config{Mode: Plain}).Dial(testCtx(t), l.Addr().String(), nil)
	if err != nil {
		t.Fatal(err)
	}
	wire.Write(c, wire.Message{Type: wire.AuthReq, UserID: "ali", Passcode: "1234"})
	c.Close()
	if b := <-got; string(b) != `{"msgtype":"AUTHREQ","userid":"ali","passcode":"1234"}`+"\n" {
		t.Fatalf("plain wire bytes %q", b)
	}
}

func TestTLS12Refused(t *testing.T) {
	srvID, cliID := newIdentity(t), newIdentity(t)
	l, ch := listen(t, secure(srvID), "", nil)

	// A client that offers TLS 1.2 at most gets no connection.
	raw, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	raw.SetDeadline(time.Now().Add(3 * time.Second))
	old := tls.Client(raw, &tls.Config{
		MaxVersion:         tls.VersionTLS12,
		InsecureSkipVerify: true,
		Certificates:       []tls.Certificate{cliID.cert},
	})
	if err := old.Handshake(); err == nil {
		t.Fatal("a TLS 1.2 client completed a handshake")
	}
	if s := wait(t, ch); s.err == nil {
		t.Fatal("server accepted a TLS 1.2 client")
	}

	// Our client refuses a server that offers TLS 1.2 at most.
	ol, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ol.Close()
	go func() {
		raw, err := ol.Accept()
		if err != nil {
			return
		}
		defer raw.Close()
		raw.SetDeadline(time.Now().Add(3 * time.Second))
		tls.Server(raw, &tls.Config{MaxVersion: tls.VersionTLS12, Certificates: []tls.Certificate{srvID.cert}}).Handshake()
	}()
	if c, err := secure(cliID).Dial(testCtx(t), ol.Addr().String(), PinKey(srvID.Public)); err == nil {
		c.Close()
		t.Fatal("our client accepted a TLS 1.2 server")
	}
}

// TestNoSessionResumption: the server issues no session tickets, so a
// client that keeps a session cache still does a full handshake (and a
// full key check) every time. The control run shows that the test would
// see a resumption if tickets were on.
func TestNoSessionResumption(t *testing.T) {
	srvID, cliID := newIdentity(t), newIdentity(t)
	resumed := func(srvCfg *tls.Config) bool {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		go func() {
			for {
				raw, err := l.Accept()
				if err != nil {
					return
				}
				go func() {
					defer raw.Close()
					raw.SetDeadline(time.Now().Add(3 * time.Second))
					s := tls.Server(raw, srvCfg)
					if s.Handshake() == nil {
						s.Write([]byte("x")) // after the tickets, if any
						io.Copy(io.Discard, s)
					}
				}()
			}
		}()
		cache := tls.NewLRUClientSessionCache(4)
		var last bool
		for i := 0; i < 2; i++ {
			raw, err := net.Dial("tcp", l.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			raw.SetDeadline(time.Now().Add(3 * time.Second))
			c := tls.Client(raw, &tls.Config{
				MinVersion:         tls.VersionTLS13,
				InsecureSkipVerify: true,
				ServerName:         "pi2pi",
				Certificates:       []tls.Certificate{cliID.cert},
				ClientSessionCache: cache,
			})
			if err := c.Handshake(); err != nil {
				t.Fatal(err)
			}
			if _, err := io.ReadFull(c, make([]byte, 1)); err != nil {
				t.Fatal(err)
			}
			last = c.ConnectionState().DidResume
			c.Close()
		}
		return last
	}
	ours := secure(srvID).tlsConfig(true, nil)
	if resumed(ours) {
		t.Fatal("the server resumed a session: session tickets are on")
	}
	control := secure(srvID).tlsConfig(true, nil)
	control.SessionTicketsDisabled = false
	if !resumed(control) {
		t.Fatal("control run with tickets on did not resume: the test cannot see resumption")
	}
	for _, server := range []bool{true, false} {
		c := secure(srvID).tlsConfig(server, PinKey(cliID.Public))
		if !c.SessionTicketsDisabled || c.ClientSessionCache != nil {
			t.Errorf("tlsConfig(server=%v) keeps sessions", server)
		}
		if c.MinVersion != tls.VersionTLS13 || c.MaxVersion != tls.VersionTLS13 {
			t.Errorf("tlsConfig(server=%v) allows versions %x..%x", server, c.MinVersion, c.MaxVersion)
		}
	}
}

func TestClientRefusesOtherServerKey(t *testing.T) {
	srvID, cliID, otherID := newIdentity(t), newIdentity(t), newIdentity(t)
	l, ch := listen(t, secure(srvID), "", nil)
	c, err := secure(cliID).Dial(testCtx(t), l.Addr().String(), PinKey(otherID.Public))
	if err == nil {
		c.Close()
		t.Fatal("client accepted a server whose key it did not pin")
	}
	if !errors.Is(err, ErrKeyMismatch) {
		t.Fatalf("Dial error %v, want ErrKeyMismatch", err)
	}
	if !strings.Contains(err.Error(), Fingerprint(srvID.Public)) || !strings.Contains(err.Error(), Fingerprint(otherID.Public)) {
		t.Errorf("error %q does not name both fingerprints", err)
	}
	if s := wait(t, ch); s.err == nil {
		t.Fatal("server side completed a handshake the client refused")
	}
}

func TestServerRefusesOtherClientKey(t *testing.T) {
	srvID, cliID, otherID := newIdentity(t), newIdentity(t), newIdentity(t)
	l, ch := listen(t, secure(srvID), "", PinKey(otherID.Public))
	c, err := secure(cliID).Dial(testCtx(t), l.Addr().String(), PinKey(srvID.Public))
	s := wait(t, ch)
	if s.err == nil || !errors.Is(s.err, ErrKeyMismatch) {
		t.Fatalf("server handshake error %v, want ErrKeyMismatch", s.err)
	}
	if err == nil {
		// In TLS 1.3 the client finishes before the server has checked
		// its certificate; the refusal arrives as an alert on first use.
		defer c.Close()
		if err := roundTrip(c); err == nil {
			t.Fatal("refused client could still exchange a message")
		}
	}
}

func TestSecureClientNeedsPin(t *testing.T) {
	srvID, cliID := newIdentity(t), newIdentity(t)
	l, _ := listen(t, secure(srvID), "", nil)
	if c, err := secure(cliID).Dial(testCtx(t), l.Addr().String(), nil); err == nil {
		c.Close()
		t.Fatal("secure Dial without a VerifyFunc succeeded")
	}
}

// mitmProxy listens with its own identity, terminates TLS from whoever
// connects (accepting any key), dials target with the same identity
// (accepting any key) and relays the clear text between the two. It
// reports each server-side error it meets on the returned channel.
func mitmProxy(t *testing.T, id *Identity, target string) (addr string, upstream <-chan error) {
	t.Helper()
	acceptAny := func(ed25519.PublicKey) error { return nil }
	l, err := Listen(secure(id), "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 4)
	acceptEach(t, l, func(raw net.Conn) {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		down, err := l.Config.Server(ctx, raw, acceptAny)
		if err != nil {
			return // the victim client refused us
		}
		defer down.Close()
		up, err := secure(id).Dial(ctx, target, acceptAny)
		errs <- err
		if err != nil {
			return
		}
		defer up.Close()
		down.SetDeadline(time.Now().Add(3 * time.Second))
		up.SetDeadline(time.Now().Add(3 * time.Second))
		go func() { io.Copy(up, down); up.Close() }()
		io.Copy(down, up)
	})
	return l.Addr().String(), errs
}

// TestManInTheMiddle puts a proxy with its own keys on the path: it
// terminates TLS towards the client and dials the server itself, relaying
// clear text. The control run shows the proxy works when nobody pins; with
// pins, the client refuses it on the first hop and the server (a callee
// that looked up the caller's key) refuses it on the second.
func TestManInTheMiddle(t *testing.T) {
	srvID, cliID, mitmID := newIdentity(t), newIdentity(t), newIdentity(t)

	t.Run("control: nobody pins", func(t *testing.T) {
		srv, srvCh := listen(t, secure(srvID), "", nil)
		proxy, _ := mitmProxy(t, mitmID, srv.Addr().String())
		c, err := secure(cliID).Dial(testCtx(t), proxy, PinKey(mitmID.Public))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := roundTrip(c); err != nil {
			t.Fatalf("the proxy does not relay: %v", err)
		}
		if s := wait(t, srvCh); s.err != nil || !s.conn.PeerKey().Equal(mitmID.Public) {
			t.Fatalf("server saw %v, %v; want the proxy's key", s.err, s.conn)
		}
	})

	t.Run("client pins the server", func(t *testing.T) {
		srv, _ := listen(t, secure(srvID), "", nil)
		proxy, _ := mitmProxy(t, mitmID, srv.Addr().String())
		c, err := secure(cliID).Dial(testCtx(t), proxy, PinKey(srvID.Public))
		if err == nil {
			c.Close()
			t.Fatal("client accepted the man in the middle")
		}
		if !errors.Is(err, ErrKeyMismatch) {
			t.Fatalf("client error %v, want ErrKeyMismatch", err)
		}
	})

	t.Run("server pins the client", func(t *testing.T) {
		srv, srvCh := listen(t, secure(srvID), "", PinKey(cliID.Public))
		proxy, _ := mitmProxy(t, mitmID, srv.Addr().String())
		// Even a client fooled into accepting the proxy's key gets no
		// conversation with the server.
		c, err := secure(cliID).Dial(testCtx(t), proxy, PinKey(mitmID.Public))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if s := wait(t, srvCh); s.err == nil || !errors.Is(s.err, ErrKeyMismatch) {
			t.Fatalf("server accepted the man in the middle: %v", s.err)
		}
		if roundTrip(c) == nil {
			t.Fatal("a message crossed the man in the middle")
		}
	})
}

// TestRelaySeesOnlyCiphertext: a proxy that merely relays bytes cannot be
// refused (it holds no key) but sees only TLS records; the message text
// never crosses it in clear.
func TestRelaySeesOnlyCiphertext(t *testing.T) {
	srvID, cliID := newIdentity(t), newIdentity(t)
	srv, srvCh := listen(t, secure(srvID), "", PinKey(cliID.Public))
	rl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer rl.Close()
	var mu sync.Mutex
	var seen bytes.Buffer
	record := func(dst io.Writer, src io.Reader) {
		buf := make([]byte, 4096)
		for {
			n, err := src.Read(buf)
			if n > 0 {
				mu.Lock()
				seen.Write(buf[:n])
				mu.Unlock()
				dst.Write(buf[:n])
			}
			if err != nil {
				return
			}
		}
	}
	go func() {
		a, err := rl.Accept()
		if err != nil {
			return
		}
		b, err := net.Dial("tcp", srv.Addr().String())
		if err != nil {
			a.Close()
			return
		}
		go func() { record(b, a); b.Close() }()
		record(a, b)
		a.Close()
	}()
	c, err := secure(cliID).Dial(testCtx(t), rl.Addr().String(), PinKey(srvID.Public))
	if err != nil {
		t.Fatal(err)
	}
	if s := wait(t, srvCh); s.err != nil {
		t.Fatal(s.err)
	}
	if err := roundTrip(c); err != nil {
		t.Fatal(err)
	}
	c.Close()
	time.Sleep(50 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	for _, clear := range []string{"CONNECTREQ", "CONNECTREPLY", "ali", "ACCEPTED"} {
		if bytes.Contains(seen.Bytes(), []byte(clear)) {
			t.Errorf("relay saw %q in clear", clear)
		}
	}
	if seen.Len() == 0 || seen.Bytes()[0] != 0x16 {
		t.Errorf("relay did not see a TLS handshake record first")
	}
}

// TestPlainClientToSecureServer: a clear-text client gets a closed
// connection at once, and the server's handshake fails instead of waiting.
func TestPlainClientToSecureServer(t *testing.T) {
	srvID := newIdentity(t)
	l, ch := listen(t, secure(srvID), "", nil)
	c, err := (&Config{Mode: Plain}).Dial(testCtx(t), l.Addr().String(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	if err := roundTrip(c); err == nil {
		t.Fatal("a plain client got an answer from a secure server")
	}
	if s := wait(t, ch); s.err == nil {
		t.Fatal("secure server accepted a clear-text client")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("refusing a clear-text client took %v", d)
	}
}

// TestSilentClientDeadline: a client that connects and sends nothing holds
// the server's handshake only until the context's deadline.
func TestSilentClientDeadline(t *testing.T) {
	srvID := newIdentity(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	raw, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := secure(srvID).Server(ctx, raw, nil); err == nil {
		t.Fatal("handshake with a silent client succeeded")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("handshake with a silent client took %v despite a 200ms deadline", d)
	}
}

// TestSecureClientToPlainServer: a course-style plain server either closes
// on the ClientHello (it is not JSON) or says nothing; both end the secure
// client's attempt with an error, the second at its deadline.
func TestSecureClientToPlainServer(t *testing.T) {
	srvID, cliID := newIdentity(t), newIdentity(t)

	// A plain server that decodes JSON and closes on garbage.
	l, ch := listen(t, &Config{Mode: Plain}, "", nil)
	start := time.Now()
	if c, err := secure(cliID).Dial(testCtx(t), l.Addr().String(), PinKey(srvID.Public)); err == nil {
		c.Close()
		t.Fatal("secure client connected to a plain server")
	}
	<-ch
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("failing against a plain server took %v", d)
	}

	// A plain server that accepts and never answers.
	sl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer sl.Close()
	held := make(chan net.Conn, 1)
	go func() {
		c, err := sl.Accept()
		if err == nil {
			held <- c
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start = time.Now()
	if c, err := secure(cliID).Dial(ctx, sl.Addr().String(), PinKey(srvID.Public)); err == nil {
		c.Close()
		t.Fatal("secure client connected to a silent server")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("secure client waited %v for a silent server despite a 200ms deadline", d)
	}
	select {
	case c := <-held:
		c.Close()
	case <-time.After(time.Second):
	}
}

// TestLocalIP dials from 127.0.0.2, as a terminal started with
// --listen 127.0.0.2:8085 does, and checks what the server sees.
func TestLocalIP(t *testing.T) {
	srvID, cliID := newIdentity(t), newIdentity(t)
	src := netip.MustParseAddr("127.0.0.2")
	for _, tc := range []struct {
		name   string
		server *Config
		client *Config
		verify VerifyFunc
	}{
		{"plain", &Config{Mode: Plain}, &Config{Mode: Plain, LocalIP: src}, nil},
		{"secure", secure(srvID), &Config{Mode: Secure, Identity: cliID, LocalIP: src}, PinKey(srvID.Public)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, ch := listen(t, tc.server, "", nil)
			c, err := tc.client.Dial(testCtx(t), l.Addr().String(), tc.verify)
			if err != nil {
				if strings.Contains(err.Error(), "cannot assign requested address") {
					t.Skip("127.0.0.2 is not usable on this host's loopback")
				}
				t.Fatal(err)
			}
			defer c.Close()
			s := wait(t, ch)
			if s.err != nil {
				t.Fatal(s.err)
			}
			if got := s.conn.RemoteIP(); got != src {
				t.Fatalf("server sees the client at %v, want %v", got, src)
			}
			if got := AddrIP(c.LocalAddr()); got != src {
				t.Fatalf("client's local address %v, want %v", got, src)
			}
		})
	}
	// An unspecified LocalIP (from --listen :8085) leaves the choice to
	// the kernel.
	l, ch := listen(t, &Config{Mode: Plain}, "", nil)
	c, err := (&Config{Mode: Plain, LocalIP: netip.IPv4Unspecified()}).Dial(testCtx(t), l.Addr().String(), nil)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if s := wait(t, ch); s.err != nil || s.conn.RemoteIP() != netip.MustParseAddr("127.0.0.1") {
		t.Fatalf("unspecified LocalIP: %v, %v", s.err, s.conn.RemoteIP())
	}
}

func TestAddrIP(t *testing.T) {
	tests := []struct {
		addr net.Addr
		want netip.Addr
	}{
		{&net.TCPAddr{IP: net.ParseIP("127.0.0.2"), Port: 8085}, netip.MustParseAddr("127.0.0.2")},
		{&net.TCPAddr{IP: net.ParseIP("::ffff:192.168.1.23"), Port: 8085}, netip.MustParseAddr("192.168.1.23")},
		{&net.TCPAddr{IP: net.ParseIP("::1"), Port: 1}, netip.MustParseAddr("::1")},
		{&net.UnixAddr{Name: "/run/pi2pid/control.sock", Net: "unix"}, netip.Addr{}},
	}
	for _, tc := range tests {
		if got := AddrIP(tc.addr); got != tc.want {
			t.Errorf("AddrIP(%v) = %v, want %v", tc.addr, got, tc.want)
		}
	}
}

func TestConfigChecks(t *testing.T) {
	ctx := testCtx(t)
	if _, err := Listen(&Config{Mode: Secure}, "127.0.0.1:0"); err == nil {
		t.Error("secure Listen without an identity succeeded")
	}
	if _, err := Listen(&Config{Mode: "tls"}, "127.0.0.1:0"); err == nil {
		t.Error("Listen with an unknown mode succeeded")
	}
	if _, err := (&Config{}).Dial(ctx, "127.0.0.1:1", nil); err == nil {
		t.Error("Dial with no mode succeeded")
	}
	for _, tc := range []struct {
		in   string
		want Mode
		ok   bool
	}{
		{"secure", Secure, true},
		{"plain", Plain, true},
		{"", "", false},
		{"Secure", "", false},
		{"tls", "", false},
	} {
		got, err := ParseMode(tc.in)
		if got != tc.want || (err == nil) != tc.ok {
			t.Errorf("ParseMode(%q) = %q, %v", tc.in, got, err)
		}
	}
}

func BenchmarkSecureHandshake(b *testing.B) {
	srvID, cliID := newIdentity(b), newIdentity(b)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			raw, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				if c, err := secure(srvID).Server(context.Background(), raw, nil); err == nil {
					c.Close()
				}
			}()
		}
	}()
	cfg, pin := secure(cliID), PinKey(srvID.Public)
	for b.Loop() {
		c, err := cfg.Dial(context.Background(), l.Addr().String(), pin)
		if err != nil {
			b.Fatal(err)
		}
		c.Close()
	}
}
