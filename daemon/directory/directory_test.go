package directory

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pi2pi/pi2pi/internal/transport"
	"github.com/pi2pi/pi2pi/internal/wire"
)

// fakeServer answers each connection with handle, in plain or secure mode.
type fakeServer struct {
	addr    string
	id      *transport.Identity
	mu      sync.Mutex
	sources []netip.Addr
}

func startFake(t *testing.T, mode transport.Mode, handle func(c net.Conn, req wire.Message)) *fakeServer {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	id, err := transport.GenerateIdentity()
	if err != nil {
		t.Fatal(err)
	}
	fs := &fakeServer{addr: l.Addr().String(), id: id}
	cfg := &transport.Config{Mode: mode, Identity: id}
	var wg sync.WaitGroup
	done := make(chan struct{})
	t.Cleanup(func() { close(done); l.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			raw, err := l.Accept()
			if err != nil {
				return
			}
			fs.mu.Lock()
			fs.sources = append(fs.sources, transport.AddrIP(raw.RemoteAddr()))
			fs.mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer raw.Close()
				go func() { <-done; raw.Close() }()
				_ = raw.SetDeadline(time.Now().Add(5 * time.Second))
				c, err := cfg.Server(context.Background(), raw, nil)
				if err != nil {
					return
				}
				req, err := wire.NewDecoder(c).Decode()
				if err != nil {
					return
				}
				handle(c, req)
			}()
		}
	}()
	return fs
}

func reply(m wire.Message) func(net.Conn, wire.Message) {
	return func(c net.Conn, _ wire.Message) { _ = wire.Write(c, m) }
}

func raw(s string) func(net.Conn, wire.Message) {
	return func(c net.Conn, _ wire.Message) { _, _ = c.Write([]byte(s)) }
}

func plainClient(addr string) *Client {
	return &Client{Addr: addr, Transport: &transport.Config{Mode: transport.Plain}, Timeout: 300 * time.Millisecond}
}

func TestAuth(t *testing.T) {
	tests := []struct {
		name   string
		handle func(net.Conn, wire.Message)
		want   error
		text   string
	}{
		{"granted", reply(wire.Message{Type: wire.AuthReply, UserID: "ali", Status: "GRANTED"}), nil, ""},
		{"granted mixed case", raw(`{"msgtype":"AUTHREPLY","status":"Granted"}`), nil, ""},
		{"refused", reply(wire.Message{Type: wire.AuthReply, Status: "REFUSED"}), ErrRefused, ""},
		{"no answer", func(c net.Conn, _ wire.Message) { time.Sleep(time.Second) }, ErrUnreachable, "did not answer"},
		{"slow answer", func(c net.Conn, _ wire.Message) {
			time.Sleep(time.Second)
			_ = wire.Write(c, wire.Message{Type: wire.AuthReply, Status: "GRANTED"})
		}, ErrUnreachable, "did not answer"},
		{"closes", func(c net.Conn, _ wire.Message) {}, ErrUnreachable, "closed the connection"},
		{"garbage", raw("HTTP/1.1 400 Bad Request\r\n\r\n"), ErrMalformed, "not answer in JSON"},
		{"truncated", raw(`{"msgtype":"AUTHREPLY","sta`), ErrUnreachable, "closed the connection"},
		{"wrong type", reply(wire.Message{Type: wire.LookupReply, Status: "SUCCESS"}), ErrMalformed, "LOOKUPREPLY"},
		{"bad status", raw(`{"msgtype":"AUTHREPLY","status":"MAYBE"}`), ErrMalformed, "MAYBE"},
		{"status not a string", raw(`{"msgtype":"AUTHREPLY","status":5}`), ErrMalformed, ""},
		{"not an object", raw(`[1,2]`), ErrMalformed, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got wire.Message
			var mu sync.Mutex
			fs := startFake(t, transport.Plain, func(c net.Conn, req wire.Message) {
				mu.Lock()
				got = req
				mu.Unlock()
				tt.handle(c, req)
			})
			start := time.Now()
			err := plainClient(fs.addr).Auth(context.Background(), "ali", "cred")
			if time.Since(start) > 2*time.Second {
				t.Errorf("took %s", time.Since(start))
			}
			if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if err != nil && !strings.Contains(err.Error(), tt.text) {
				t.Fatalf("err = %v, want it to say %q", err, tt.text)
			}
			mu.Lock()
			defer mu.Unlock()
			if got.Type != wire.AuthReq || got.UserID != "ali" || got.Passcode != "cred" {
				t.Fatalf("server got %+v", got)
			}
		})
	}
}

func TestUnreachable(t *testing.T) {
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := l.Addr().String()
	l.Close()
	err := plainClient(addr).Auth(context.Background(), "ali", "x")
	if !errors.Is(err, ErrUnreachable) || !strings.Contains(err.Error(), "is pi2pi-server running") {
		t.Fatalf("err = %v", err)
	}
}

func TestLookup(t *testing.T) {
	id, _ := transport.GenerateIdentity()
	key := transport.KeyString(id.Public)
	tests := []struct {
		name    string
		handle  func(net.Conn, wire.Message)
		want    error
		address string
		hasKey  bool
	}{
		{"success", reply(wire.Message{Type: wire.LookupReply, Status: "SUCCESS", Answer: "bianca", Address: "127.0.0.3", EncryptionKey: key}), nil, "127.0.0.3", true},
		{"course key", raw(`{"msgtype":"LOOKUPREPLY","status":"SUCCESS","answer":"Bianca","location":"192.168.1.23","key":"1234"}`), nil, "192.168.1.23", false},
		{"notfound", raw(`{"msgtype":"LOOKUPREPLY","status":"NOTFOUND","answer":"","location":"","encryptionkey":""}`), ErrNotFound, "", false},
		{"seed notfound", raw(`{"msgtype":"LOOKUPREPLY","status":"SUCCESS","answer":"","address":"","encryptionkey":""}`), ErrNotFound, "", false},
		{"bad status", raw(`{"msgtype":"LOOKUPREPLY","status":"OK"}`), ErrMalformed, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := startFake(t, transport.Plain, tt.handle)
			e, err := plainClient(fs.addr).Lookup(context.Background(), "ali", "bianca")
			if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if e.Address != tt.address || (e.Key != nil) != tt.hasKey {
				t.Fatalf("entry %+v", e)
			}
			if err == nil && e.UserID != "bianca" {
				t.Fatalf("user %q", e.UserID)
			}
		})
	}
}

func TestLogout(t *testing.T) {
	fs := startFake(t, transport.Plain, reply(wire.Message{Type: wire.LogoutReply, UserID: "ali", Status: "SUCCESS"}))
	if err := plainClient(fs.addr).Logout(context.Background(), "ali"); err != nil {
		t.Fatal(err)
	}
}

func TestSourceIP(t *testing.T) {
	fs := startFake(t, transport.Plain, reply(wire.Message{Type: wire.AuthReply, Status: "GRANTED"}))
	c := plainClient(fs.addr)
	c.Transport.LocalIP = netip.MustParseAddr("127.0.0.2")
	if err := c.Auth(context.Background(), "ali", "x"); err != nil {
		t.Fatal(err)
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if len(fs.sources) != 1 || fs.sources[0].String() != "127.0.0.2" {
		t.Fatalf("server saw %v", fs.sources)
	}
}

func secureClient(t *testing.T, addr string, verify transport.VerifyFunc) *Client {
	id, err := transport.GenerateIdentity()
	if err != nil {
		t.Fatal(err)
	}
	return &Client{Addr: addr, Transport: &transport.Config{Mode: transport.Secure, Identity: id}, Verify: verify, Timeout: time.Second}
}

func TestSecureTOFUAndKeyChange(t *testing.T) {
	kh := &transport.KnownHosts{Path: filepath.Join(t.TempDir(), "known_hosts")}
	granted := reply(wire.Message{Type: wire.AuthReply, Status: "GRANTED"})
	fs := startFake(t, transport.Secure, granted)
	c := secureClient(t, fs.addr, kh.Verify("pi2pi-server", ""))
	if err := c.Auth(context.Background(), "ali", "x"); err != nil {
		t.Fatal(err)
	}
	if fp, ok := kh.Lookup("pi2pi-server"); !ok || fp != transport.Fingerprint(fs.id.Public) {
		t.Fatalf("known_hosts holds %q %v", fp, ok)
	}
	// Same name, new key: refused with advice.
	other := startFake(t, transport.Secure, granted)
	c.Addr = other.addr
	err := c.Auth(context.Background(), "ali", "x")
	if !errors.Is(err, ErrKeyChanged) || !strings.Contains(err.Error(), "remove its line") {
		t.Fatalf("err = %v", err)
	}
	// A configured fingerprint wins over known_hosts.
	c.Verify = kh.Verify("pi2pi-server", transport.Fingerprint(other.id.Public))
	if err := c.Auth(context.Background(), "ali", "x"); err != nil {
		t.Fatal(err)
	}
	c.Verify = kh.Verify("pi2pi-server", "SHA256:wrong")
	c.CloseIdle() // the kept connection was checked against the old pin
	if err := c.Auth(context.Background(), "ali", "x"); !errors.Is(err, ErrKeyChanged) || !strings.Contains(err.Error(), "--server-fingerprint") {
		t.Fatalf("err = %v", err)
	}
}

func TestPlainAgainstSecureServer(t *testing.T) {
	fs := startFake(t, transport.Secure, nil)
	err := plainClient(fs.addr).Auth(context.Background(), "ali", "x")
	if err == nil || !(errors.Is(err, ErrMalformed) || errors.Is(err, ErrUnreachable)) {
		t.Fatalf("err = %v", err)
	}
}

func TestContextCancel(t *testing.T) {
	fs := startFake(t, transport.Plain, func(c net.Conn, _ wire.Message) { time.Sleep(2 * time.Second) })
	c := plainClient(fs.addr)
	c.Timeout = 10 * time.Second
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := c.Auth(ctx, "ali", "x"); !errors.Is(err, ErrUnreachable) {
		t.Fatalf("err = %v", err)
	}
	if time.Since(start) > time.Second {
		t.Fatalf("cancel took %s", time.Since(start))
	}
}
