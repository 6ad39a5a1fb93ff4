// Package controltest drives pi2pid's control API from tests the way
// pi2pictl does: attach, log in on the console keypad, chat, wait for
// events. Only _test.go files import it.
package controltest

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/pi2pi/pi2pi/internal/control"
)

// User is one pi2pictl-like control connection.
type User struct {
	t    testing.TB
	C    *control.Client
	Seen []control.Reply // events seen so far, oldest first
}

// Attach connects to the daemon's control socket; the connection closes
// when the test ends.
func Attach(t testing.TB, socket string) *User {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := control.Dial(ctx, socket)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &User{t: t, C: c}
}

// Call makes one request.
func (u *User) Call(req control.Request) (control.Reply, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	return u.C.Call(ctx, req)
}

// Must makes one request that has to succeed.
func (u *User) Must(req control.Request) control.Reply {
	u.t.Helper()
	r, err := u.Call(req)
	if err != nil {
		u.t.Fatalf("%s: %v", req.Op, err)
	}
	return r
}

// Refused expects req to fail with code and returns the refusal.
func (u *User) Refused(req control.Request, code control.Code) *control.Error {
	u.t.Helper()
	_, err := u.Call(req)
	if control.CodeOf(err) != code {
		u.t.Fatalf("%s %s: err = %v (code %q), want code %q", req.Op, req.UserID, err, control.CodeOf(err), code)
	}
	var e *control.Error
	errors.As(err, &e)
	return e
}

// Next waits for the next event of the given kind.
func (u *User) Next(kind control.Event) control.Reply {
	u.t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case ev, ok := <-u.C.Events():
			if !ok {
				u.t.Fatalf("connection closed waiting for %s: %v", kind, u.C.Err())
			}
			u.Seen = append(u.Seen, ev)
			if ev.Event == kind {
				return ev
			}
			if ev.Event == control.EventChatEnding {
				// As pi2pictl does: send nothing more, answer with end.
				_ = u.C.Send(control.Request{Op: control.OpEnd})
			}
		case <-timeout:
			u.t.Fatalf("no %s event; saw %+v", kind, u.Seen)
		}
	}
}

// LogIn types the passcode on the console keypad, as pi2pictl login does.
func (u *User) LogIn(name, digits string) {
	u.t.Helper()
	u.Must(control.Request{Op: control.OpLogin, UserID: name})
	u.Next(control.EventPasscode)
	for i := range len(digits) {
		u.Must(control.Request{Op: control.OpKey, Key: control.Digit(digits[i])})
	}
	u.Must(control.Request{Op: control.OpKey, Key: control.KeyEnter})
	if ev := u.Next(control.EventLogin); !ev.OK {
		u.t.Fatalf("login of %s failed: %s (%s)", name, ev.Error, ev.Code)
	}
}

// ReadText collects chat text until want has arrived, and returns it.
func (u *User) ReadText(want string) string {
	u.t.Helper()
	var got strings.Builder
	for !strings.Contains(got.String(), want) {
		got.WriteString(u.Next(control.EventLine).Text)
	}
	return got.String()
}

// State returns the daemon's state.
func (u *User) State() control.State {
	u.t.Helper()
	return u.Must(control.Request{Op: control.OpStatus}).Status.State
}

// WaitState polls until the daemon is in state s.
func (u *User) WaitState(s control.State) {
	u.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for u.State() != s {
		if time.Now().After(deadline) {
			u.t.Fatalf("state %s, want %s", u.State(), s)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Bulk measures chat throughput: from connects to to, then sends b.N chunks
// of 64 KiB and waits until to has received them all.
func Bulk(b *testing.B, from, to *User, callee string) {
	from.Must(control.Request{Op: control.OpChat, UserID: callee})
	to.Next(control.EventChatStart)
	chunk := strings.Repeat("x", 64<<10)
	b.SetBytes(int64(len(chunk)))
	done := make(chan int)
	go func() {
		n := 0
		for n < b.N*len(chunk) {
			ev, ok := <-to.C.Events()
			if !ok {
				break
			}
			n += len(ev.Text)
		}
		done <- n
	}()
	b.ResetTimer()
	for range b.N {
		if err := from.C.Send(control.Request{Op: control.OpSend, Text: chunk}); err != nil {
			b.Fatal(err)
		}
	}
	if n := <-done; n != b.N*len(chunk) {
		b.Fatalf("received %d bytes", n)
	}
}
