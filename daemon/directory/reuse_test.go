package directory

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pi2pi/pi2pi/internal/transport"
	"github.com/pi2pi/pi2pi/internal/wire"
)

// multiServer answers any number of requests per connection, like
// pi2pi-server, and counts connections and requests.
type multiServer struct {
	addr string
	id   *transport.Identity
	l    net.Listener
	wg   sync.WaitGroup

	mu       sync.Mutex
	conns    []net.Conn
	accepted int
	requests int
	closed   int // connections the client closed (EOF seen by the server)

	delay atomic.Int64 // time.Duration to wait before each answer
}

// startMulti listens on addr (":0" port for any) and answers every request
// with the reply it expects. id may be nil for a new identity.
func startMulti(t *testing.T, mode transport.Mode, addr string, id *transport.Identity) *multiServer {
	t.Helper()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	if id == nil {
		if id, err = transport.GenerateIdentity(); err != nil {
			t.Fatal(err)
		}
	}
	s := &multiServer{addr: l.Addr().String(), id: id, l: l}
	cfg := &transport.Config{Mode: mode, Identity: id}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			raw, err := l.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.accepted++
			s.conns = append(s.conns, raw)
			s.mu.Unlock()
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				defer raw.Close()
				_ = raw.SetDeadline(time.Now().Add(10 * time.Second))
				c, err := cfg.Server(context.Background(), raw, nil)
				if err != nil {
					return
				}
				dec := wire.NewDecoder(c)
				for {
					req, err := dec.Decode()
					if err != nil {
						if errors.Is(err, net.ErrClosed) {
							return // closed by stop
						}
						s.mu.Lock()
						s.closed++
						s.mu.Unlock()
						return
					}
					s.mu.Lock()
					s.requests++
					s.mu.Unlock()
					time.Sleep(time.Duration(s.delay.Load()))
					var rep wire.Message
					switch req.Type {
					case wire.AuthReq:
						rep = wire.Message{Type: wire.AuthReply, UserID: req.UserID, Status: wire.Granted}
					case wire.LookupReq:
						rep = wire.Message{Type: wire.LookupReply, Status: wire.Success, Answer: req.Lookup, Address: "127.0.0.3"}
					case wire.LogoutReq:
						rep = wire.Message{Type: wire.LogoutReply, UserID: req.UserID, Status: wire.Success}
					}
					if err := wire.Write(c, rep); err != nil {
						return
					}
				}
			}()
		}
	}()
	t.Cleanup(s.stop)
	return s
}

// stop closes the listener and every connection, as a server that exits.
func (s *multiServer) stop() {
	s.l.Close()
	s.mu.Lock()
	for _, c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

func (s *multiServer) counts() (accepted, requests, closed int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.accepted, s.requests, s.closed
}

// threeRequests runs Auth, Lookup and Logout and fails the test on an error.
func threeRequests(t *testing.T, c *Client) {
	t.Helper()
	ctx := context.Background()
	if err := c.Auth(ctx, "ali", "cred"); err != nil {
		t.Fatalf("auth: %v", err)
	}
	if e, err := c.Lookup(ctx, "ali", "bianca"); err != nil || e.Address != "127.0.0.3" {
		t.Fatalf("lookup: %+v, %v", e, err)
	}
	if err := c.Logout(ctx, "ali"); err != nil {
		t.Fatalf("logout: %v", err)
	}
}

func TestSecureReusesOneConnection(t *testing.T) {
	s := startMulti(t, transport.Secure, "127.0.0.1:0", nil)
	c := secureClient(t, s.addr, transport.PinKey(s.id.Public))
	defer c.Close()
	threeRequests(t, c)
	threeRequests(t, c)
	if accepted, requests, _ := s.counts(); accepted != 1 || requests != 6 {
		t.Fatalf("server saw %d connections for %d requests, want 1 for 6", accepted, requests)
	}
}

func TestPlainOpensOneConnectionPerRequest(t *testing.T) {
	s := startMulti(t, transport.Plain, "127.0.0.1:0", nil)
	c := plainClient(s.addr)
	threeRequests(t, c)
	waitFor(t, func() bool { _, _, closed := s.counts(); return closed == 3 })
	if accepted, requests, closed := s.counts(); accepted != 3 || requests != 3 || closed != 3 {
		t.Fatalf("server saw %d connections, %d requests, %d closed by the client; want 3 each", accepted, requests, closed)
	}
}

// A server that closes the connection after each request (as the fake of
// the other tests does) costs a retry, not an error.
func TestSecureReconnectsWhenServerClosedIdleConnection(t *testing.T) {
	fs := startFake(t, transport.Secure, reply(wire.Message{Type: wire.AuthReply, Status: "GRANTED"}))
	c := secureClient(t, fs.addr, transport.PinKey(fs.id.Public))
	defer c.Close()
	for i := range 3 {
		if err := c.Auth(context.Background(), "ali", "x"); err != nil {
			t.Fatalf("auth %d: %v", i, err)
		}
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if len(fs.sources) != 3 {
		t.Fatalf("server saw %d connections, want 3", len(fs.sources))
	}
}

func TestSecureReconnectsAfterServerRestart(t *testing.T) {
	s := startMulti(t, transport.Secure, "127.0.0.1:0", nil)
	c := secureClient(t, s.addr, transport.PinKey(s.id.Public))
	defer c.Close()
	threeRequests(t, c)
	s.stop()
	// The same server, restarted on the same address with the same key.
	s2 := startMulti(t, transport.Secure, s.addr, s.id)
	threeRequests(t, c)
	if accepted, requests, _ := s2.counts(); accepted != 1 || requests != 3 {
		t.Fatalf("restarted server saw %d connections for %d requests, want 1 for 3", accepted, requests)
	}
}

func TestSecureIdleConnectionIsClosed(t *testing.T) {
	s := startMulti(t, transport.Secure, "127.0.0.1:0", nil)
	c := secureClient(t, s.addr, transport.PinKey(s.id.Public))
	c.IdleTimeout = 50 * time.Millisecond
	defer c.Close()
	threeRequests(t, c)
	// The server sees the client hang up once the idle period is over.
	waitFor(t, func() bool { _, _, closed := s.counts(); return closed == 1 })
	threeRequests(t, c)
	if accepted, _, _ := s.counts(); accepted != 2 {
		t.Fatalf("server saw %d connections, want 2", accepted)
	}
}

func TestSecureCloseDropsIdleConnection(t *testing.T) {
	s := startMulti(t, transport.Secure, "127.0.0.1:0", nil)
	c := secureClient(t, s.addr, transport.PinKey(s.id.Public))
	threeRequests(t, c)
	c.Close()
	waitFor(t, func() bool { _, _, closed := s.counts(); return closed == 1 })
	// A closed client still works, without keeping anything open.
	threeRequests(t, c)
	waitFor(t, func() bool { _, _, closed := s.counts(); return closed == 4 })
}

// A fresh connection is never retried: a server that takes a request and
// hangs up gets asked once.
func TestSecureNoRetryOnFreshConnection(t *testing.T) {
	fs := startFake(t, transport.Secure, func(net.Conn, wire.Message) {})
	c := secureClient(t, fs.addr, transport.PinKey(fs.id.Public))
	defer c.Close()
	err := c.Auth(context.Background(), "ali", "x")
	if !errors.Is(err, ErrUnreachable) || !strings.Contains(err.Error(), "closed the connection") {
		t.Fatalf("err = %v", err)
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if len(fs.sources) != 1 {
		t.Fatalf("server saw %d connections, want 1", len(fs.sources))
	}
}

// A timeout on a kept connection is an answer (the server is slow), not a
// dead connection: no retry, and that connection is not used again.
func TestSecureNoRetryOnTimeout(t *testing.T) {
	s := startMulti(t, transport.Secure, "127.0.0.1:0", nil)
	c := secureClient(t, s.addr, transport.PinKey(s.id.Public))
	c.Timeout = 200 * time.Millisecond
	defer c.Close()
	threeRequests(t, c)
	s.delay.Store(int64(500 * time.Millisecond))
	err := c.Auth(context.Background(), "ali", "x")
	if !errors.Is(err, ErrUnreachable) || !strings.Contains(err.Error(), "did not answer") {
		t.Fatalf("err = %v", err)
	}
	if accepted, _, _ := s.counts(); accepted != 1 {
		t.Fatalf("server saw %d connections, want 1 (no retry)", accepted)
	}
	s.delay.Store(0)
	threeRequests(t, c)
	if accepted, _, _ := s.counts(); accepted != 2 {
		t.Fatalf("server saw %d connections, want 2", accepted)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
