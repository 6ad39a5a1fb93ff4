package backend

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/pi2pi/pi2pi/internal/control"
	"github.com/pi2pi/pi2pi/internal/testbin"
)

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }

// freePort finds a TCP port free on every given IP.
var freePort = testbin.FreePort

// user is a pi2pictl-like control connection.
type user struct {
	t  testing.TB
	c  *control.Client
	ev []control.Reply
}

func attach(t testing.TB, socket string) *user {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := control.Dial(ctx, socket)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &user{t: t, c: c}
}

func (u *user) call(req control.Request) (control.Reply, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	return u.c.Call(ctx, req)
}

func (u *user) must(req control.Request) control.Reply {
	u.t.Helper()
	r, err := u.call(req)
	if err != nil {
		u.t.Fatalf("%s: %v", req.Op, err)
	}
	return r
}

// refused expects req to fail with code and returns the message.
func (u *user) refused(req control.Request, code string) string {
	u.t.Helper()
	_, err := u.call(req)
	if control.CodeOf(err) != code {
		u.t.Fatalf("%s %s: err = %v (code %q), want code %q", req.Op, req.UserID, err, control.CodeOf(err), code)
	}
	return err.Error()
}

func (u *user) next(kind string) control.Reply {
	u.t.Helper()
	timeout := time.After(15 * time.Second)
	for {
		select {
		case ev, ok := <-u.c.Events():
			if !ok {
				u.t.Fatalf("connection closed waiting for %s", kind)
			}
			u.ev = append(u.ev, ev)
			if ev.Event == kind {
				return ev
			}
		case <-timeout:
			u.t.Fatalf("no %s event; saw %+v", kind, u.ev)
		}
	}
}

func (u *user) logIn(name, digits string) {
	u.t.Helper()
	u.must(control.Request{Op: control.OpLogin, UserID: name})
	u.next(control.EventPasscode)
	for _, k := range digits + "A" {
		u.must(control.Request{Op: control.OpKey, Key: string(k)})
	}
	if ev := u.next(control.EventLogin); !ev.OK {
		u.t.Fatalf("login of %s failed: %s", name, ev.Error)
	}
}

func (u *user) readText(want string) string {
	u.t.Helper()
	var got strings.Builder
	for !strings.Contains(got.String(), want) {
		got.WriteString(u.next(control.EventLine).Text)
	}
	return got.String()
}

func (u *user) state() string {
	u.t.Helper()
	return u.must(control.Request{Op: control.OpStatus}).Status.State
}

// waitState polls until the daemon is in state s.
func (u *user) waitState(s string) {
	u.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for u.state() != s {
		if time.Now().After(deadline) {
			u.t.Fatalf("state %s, want %s", u.state(), s)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func contextWithTimeout(d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), d)
}
