package controlsock

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pi2pi/pi2pi/internal/control"
)

// hello is a client's hello of this version.
var hello = fmt.Sprintf(`{"id":1,"op":"hello","version":%d}`, control.Version)

type fakeHandler struct {
	mu           sync.Mutex
	connected    []*Conn
	disconnected int
	reqs         []control.Request
	handle       func(c *Conn, req control.Request) (control.Reply, error)
}

func (h *fakeHandler) Connected(c *Conn) {
	h.mu.Lock()
	h.connected = append(h.connected, c)
	h.mu.Unlock()
}
func (h *fakeHandler) Disconnected(*Conn) {
	h.mu.Lock()
	h.disconnected++
	h.mu.Unlock()
}
func (h *fakeHandler) Handle(c *Conn, req control.Request) (control.Reply, error) {
	h.mu.Lock()
	h.reqs = append(h.reqs, req)
	f := h.handle
	h.mu.Unlock()
	if f != nil {
		return f(c, req)
	}
	return control.Reply{Status: &control.Status{State: control.StateLoggedOut}}, nil
}

// serve starts a server on a real Unix socket and returns its path.
func serve(t *testing.T, h Handler) (string, *Server) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "control.sock")
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{Handler: h, Daemon: "test", Log: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})), HelloTimeout: 300 * time.Millisecond}
	done := make(chan struct{})
	go func() { _ = s.Serve(l); close(done) }()
	t.Cleanup(func() { l.Close(); <-done; s.Close() })
	return path, s
}

// rawConn speaks the protocol by hand.
type rawConn struct {
	net.Conn
	r *bufio.Reader
}

func dialRaw(t *testing.T, path string) *rawConn {
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	return &rawConn{c, bufio.NewReader(c)}
}

func (c *rawConn) send(t *testing.T, s string) {
	if _, err := c.Write([]byte(s + "\n")); err != nil {
		t.Fatal(err)
	}
}

func (c *rawConn) recv(t *testing.T) control.Reply {
	t.Helper()
	line, err := c.r.ReadBytes('\n')
	if err != nil {
		t.Fatalf("reading reply: %v", err)
	}
	var r control.Reply
	if err := json.Unmarshal(line, &r); err != nil {
		t.Fatalf("bad reply %q", line)
	}
	return r
}

func (c *rawConn) expectClosed(t *testing.T) {
	t.Helper()
	if _, err := c.r.ReadBytes('\n'); err == nil {
		t.Fatal("connection still open")
	}
}

func TestClientRoundTrip(t *testing.T) {
	h := &fakeHandler{}
	path, _ := serve(t, h)
	cl, err := control.Dial(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if cl.Daemon != "test" {
		t.Fatalf("daemon %q", cl.Daemon)
	}
	rep, err := cl.Call(context.Background(), control.Request{Op: control.OpStatus})
	if err != nil || rep.Status == nil || rep.Status.State != "logged-out" {
		t.Fatalf("%+v %v", rep, err)
	}
	h.mu.Lock()
	h.handle = func(c *Conn, req control.Request) (control.Reply, error) {
		c.Event(control.Reply{Event: control.EventState, State: control.StateChatting})
		return control.Reply{}, control.Refusal(control.CodeBusy, "bianca", errors.New("REFUSED busy"))
	}
	h.mu.Unlock()
	_, err = cl.Call(context.Background(), control.Request{Op: control.OpChat, UserID: "bianca"})
	var ce *control.Error
	if !errors.As(err, &ce) || *ce != (control.Error{Code: control.CodeBusy, Peer: "bianca", Detail: "REFUSED busy"}) {
		t.Fatalf("err = %#v, want the handler's refusal as it was", err)
	}
	// The event was queued before the result, so it is already there.
	select {
	case ev := <-cl.Events():
		if ev.Event != control.EventState || ev.State != "chatting" {
			t.Fatalf("event %+v", ev)
		}
	default:
		t.Fatal("event did not arrive before the result")
	}
	h.mu.Lock()
	c := h.connected[0]
	h.mu.Unlock()
	if c.UID != os.Getuid() {
		t.Fatalf("SO_PEERCRED uid %d, want %d", c.UID, os.Getuid())
	}
}

func TestBadInput(t *testing.T) {
	h := &fakeHandler{}
	path, _ := serve(t, h)

	t.Run("garbage before hello", func(t *testing.T) {
		c := dialRaw(t, path)
		c.send(t, "\x1b[2J hello?")
		r := c.recv(t)
		if r.Type != control.TypeResult || r.OK || r.Code != control.CodeUsage || !strings.Contains(r.Error, "hello") {
			t.Fatalf("%+v", r)
		}
		c.expectClosed(t)
	})
	t.Run("no hello", func(t *testing.T) {
		c := dialRaw(t, path)
		c.expectClosed(t) // HelloTimeout
	})
	for _, v := range []struct {
		version int
		advice  string
	}{{control.Version + 1, "upgrade pi2pid"}, {control.Version - 1, "upgrade pi2pictl"}} {
		t.Run("other version", func(t *testing.T) {
			c := dialRaw(t, path)
			b, _ := json.Marshal(control.Request{ID: 1, Op: control.OpHello, Version: v.version})
			c.send(t, string(b))
			if r := c.recv(t); r.Type != control.TypeHello || r.Version != control.Version {
				t.Fatalf("%+v", r)
			}
			r := c.recv(t)
			if r.OK || r.Code != control.CodeVersion || !strings.Contains(r.Error, v.advice) {
				t.Fatalf("%+v", r)
			}
			c.expectClosed(t)
		})
	}
	t.Run("garbage and unknown ops keep the connection", func(t *testing.T) {
		c := dialRaw(t, path)
		c.send(t, hello)
		c.recv(t)
		for _, tc := range []struct{ line, want string }{
			{`not json`, "malformed request"},
			{`{"id":7,"op":"fly"}`, "unknown op"},
			{`{"id":8}`, "no op"},
			{`{"id":9,"op":5}`, "malformed"},
			{`[]`, "malformed"},
			{hello, "already"},
		} {
			c.send(t, tc.line)
			r := c.recv(t)
			if r.OK || r.Code != control.CodeUsage || !strings.Contains(r.Error, tc.want) {
				t.Fatalf("%s: %+v", tc.line, r)
			}
		}
		c.send(t, `{"id":11,"op":"status"}`)
		if r := c.recv(t); !r.OK || r.ID != 11 {
			t.Fatalf("%+v", r)
		}
	})
	t.Run("line too long", func(t *testing.T) {
		c := dialRaw(t, path)
		c.send(t, hello)
		c.recv(t)
		go func() { _, _ = c.Write([]byte(strings.Repeat("x", control.MaxLine+10) + "\n")) }()
		r := c.recv(t)
		if r.OK || !strings.Contains(r.Error, "over") {
			t.Fatalf("%+v", r)
		}
		c.expectClosed(t)
	})
}

func TestDisconnectCallsHandler(t *testing.T) {
	h := &fakeHandler{}
	path, _ := serve(t, h)
	cl, err := control.Dial(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	cl.Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		h.mu.Lock()
		n := h.disconnected
		h.mu.Unlock()
		if n == 1 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("Disconnected not called")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestStuckClientIsDropped(t *testing.T) {
	a, b := net.Pipe()
	defer b.Close()
	c := newConn(1, a)
	// No writer runs: nothing is ever written, as with a client that
	// never reads.
	for i := 0; i < MaxBacklog+1; i++ {
		c.Event(control.Reply{Event: control.EventState})
	}
	select {
	case <-c.Done():
	default:
		t.Fatal("stuck client kept")
	}
}

func FuzzDecodeRequest(f *testing.F) {
	for _, s := range []string{
		hello, `{"id":2,"op":"stream","token":"hi\n"}`, `{"op":"key","key":"enter"}`,
		`{"id":-1,"op":"login","userid":"ali"}`, `not json`, `{}`, `{"op":null}`, `{"id":1e99}`, "\x00",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		req, err := DecodeRequest(line)
		if err == nil && !slices.Contains(control.Ops, req.Op) {
			t.Fatalf("accepted unknown op %q", req.Op)
		}
	})
}

// A chat request runs until the chat starts or fails; the connection
// goes on reading beside it, so that the client can cancel it, and a
// client that leaves closes Done while the request still runs.
func TestChatRequestServedBesideTheLoop(t *testing.T) {
	h := &fakeHandler{}
	cancel := make(chan struct{})
	h.handle = func(c *Conn, req control.Request) (control.Reply, error) {
		switch req.Op {
		case control.OpChat:
			select {
			case <-cancel:
				return control.Reply{}, control.Refusal(control.CodeChatCancelled, req.UserID, nil)
			case <-c.Done():
				return control.Reply{}, control.Refusal(control.CodeChatCancelled, req.UserID, nil)
			case <-time.After(time.Minute):
				return control.Reply{}, errors.New("the chat request was not cancelled")
			}
		case control.OpCancelChat:
			close(cancel)
		}
		return control.Reply{}, nil
	}
	path, _ := serve(t, h)
	c := dialRaw(t, path)
	c.send(t, hello)
	c.recv(t)
	c.send(t, `{"id":2,"op":"chat","userid":"bianca"}`)
	c.send(t, `{"id":3,"op":"cancel-chat"}`)
	got := map[int]control.Code{}
	for range 2 {
		r := c.recv(t)
		got[r.ID] = r.Code
	}
	if got[3] != "" || got[2] != control.CodeChatCancelled {
		t.Fatalf("results %v, want cancel-chat ok and chat %s", got, control.CodeChatCancelled)
	}
	// A client that leaves during a chat request: Done ends it.
	d := dialRaw(t, path)
	d.send(t, hello)
	d.recv(t)
	h.mu.Lock()
	n := len(h.reqs)
	h.mu.Unlock()
	d.send(t, `{"id":2,"op":"chat","userid":"bianca"}`)
	for {
		h.mu.Lock()
		m := len(h.reqs)
		h.mu.Unlock()
		if m > n {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	d.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		h.mu.Lock()
		gone := h.disconnected == 1 // after its chat request ended
		h.mu.Unlock()
		if gone {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the chat request outlived its client")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
