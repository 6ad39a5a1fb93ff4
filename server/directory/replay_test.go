package directory

import (
	"bytes"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pi2pi/pi2pi/internal/transport"
	"github.com/pi2pi/pi2pi/internal/wire"
)

// recordingProxy forwards one connection to target and records the bytes
// the client sent.
type recordingProxy struct {
	l    net.Listener
	mu   sync.Mutex
	sent bytes.Buffer
	done chan struct{}
}

func newRecordingProxy(t *testing.T, target string) *recordingProxy {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &recordingProxy{l: l, done: make(chan struct{})}
	go func() {
		defer close(p.done)
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		s, err := net.Dial("tcp", target)
		if err != nil {
			return
		}
		defer s.Close()
		go func() { io.Copy(c, s); c.Close() }()
		buf := make([]byte, 4096)
		for {
			n, err := c.Read(buf)
			if n > 0 {
				p.mu.Lock()
				p.sent.Write(buf[:n])
				p.mu.Unlock()
				s.Write(buf[:n])
			}
			if err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() { l.Close() })
	return p
}

func (p *recordingProxy) recorded() []byte {
	<-p.done
	p.mu.Lock()
	defer p.mu.Unlock()
	return bytes.Clone(p.sent.Bytes())
}

func TestReplayedAuthConnectionLogsNoOneIn(t *testing.T) {
	h := startServer(t, harnessOpts{mode: transport.Secure})
	proxy := newRecordingProxy(t, h.addr)

	// ali logs in through the recording proxy.
	ali := h.terminal("127.0.0.1")
	c, err := ali.tc.Dial(t.Context(), proxy.l.Addr().String(), transport.PinKey(h.srv.Transport.Identity.Public))
	if err != nil {
		t.Fatal(err)
	}
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	wire.Write(c, wire.Message{Type: wire.AuthReq, UserID: "ali", Passcode: credentialOf("ali")})
	r, err := wire.NewDecoder(c).Decode()
	if err != nil || r.Status != wire.Granted {
		t.Fatalf("login through proxy: %+v %v", r, err)
	}
	c.Close()
	rec := proxy.recorded()
	if bytes.Contains(rec, []byte("ali")) || bytes.Contains(rec, []byte(credentialOf("ali"))) {
		t.Fatal("the user ID or credential crossed the wire in clear text")
	}

	// ali logs out; then the attacker replays the recorded bytes.
	wantStatus(t, ali.send(wire.Message{Type: wire.LogoutReq, UserID: "ali"}), wire.LogoutReply, wire.Success)
	if _, ok := h.dir.LoggedIn("ali"); ok {
		t.Fatal("still logged in after logout")
	}
	rc, err := net.Dial("tcp", h.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	_ = rc.SetDeadline(time.Now().Add(5 * time.Second))
	rc.Write(rec)
	io.ReadAll(rc) // the server's fresh handshake, then a close
	waitFor(t, func() bool { return strings.Contains(h.logs.String(), "TLS handshake failed") })
	if _, ok := h.dir.LoggedIn("ali"); ok {
		t.Fatal("the replayed connection logged ali in")
	}
	if n := strings.Count(h.logs.String(), "login granted"); n != 1 {
		t.Fatalf("%d logins granted, want only the genuine one", n)
	}
}
