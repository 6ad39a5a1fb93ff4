// Package controltest drives pi2pid's control API from tests the way
// pi2pictl does: attach, log in on the console keypad, chat, wait for
// events. Only _test.go files import it.
package controltest

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/pi2pi/pi2pi/internal/control"
)

// User is one pi2pictl-like control connection.
type User struct {
	t      testing.TB
	C      *control.Client
	Socket string
	Seen   []control.Reply // events seen so far, oldest first
	// S is the data stream of the current chat. Next opens it when it
	// sees chat-start, as pi2pictl does, unless ManualStream is set.
	S            *control.Stream
	Token        string // the token of the last chat-start
	ManualStream bool
	pending      []control.Reply // taken, not yet returned by Next
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
	return &User{t: t, C: c, Socket: socket}
}

// OpenStream opens the data stream of the last chat-start.
func (u *User) OpenStream() *control.Stream {
	u.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := control.DialStream(ctx, u.Socket, u.Token)
	if err != nil {
		u.t.Fatalf("opening the data stream: %v", err)
	}
	u.t.Cleanup(func() { s.Close() })
	u.S = s
	return s
}

// Stream returns the current chat's data stream, waiting for chat-start
// when it is not open yet.
func (u *User) Stream() *control.Stream {
	u.t.Helper()
	if u.S == nil {
		u.Next(control.EventChatStart)
		if u.S == nil {
			u.OpenStream()
		}
	}
	return u.S
}

// Send writes text to the chat's data stream.
func (u *User) Send(text string) {
	u.t.Helper()
	if _, err := u.Stream().Write([]byte(text)); err != nil {
		u.t.Fatalf("sending: %v", err)
	}
}

// End ends our side of the chat, as pi2pictl does at stdin's end.
func (u *User) End() {
	u.t.Helper()
	if err := u.Stream().CloseWrite(); err != nil {
		u.t.Fatalf("ending: %v", err)
	}
}

// Call makes one request. A chat it starts has its data stream opened
// at once (unless ManualStream), as pi2pictl does: its chat-start event
// came before the result.
func (u *User) Call(req control.Request) (control.Reply, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	rep, err := u.C.Call(ctx, req)
	if err == nil && req.Op == control.OpChat {
		u.openOwnStream()
	}
	return rep, err
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

// Next waits for the next event of the given kind. It opens the data
// stream at chat-start and ends our side at chat-ending, as pi2pictl does.
func (u *User) Next(kind control.Event) control.Reply {
	u.t.Helper()
	return u.next(kind, true, "")
}

// NextRaw is Next without the answer to chat-ending, failing at fail.
func (u *User) NextRaw(kind, fail control.Event) control.Reply {
	u.t.Helper()
	return u.next(kind, false, fail)
}

func (u *User) next(kind control.Event, answerEnding bool, fail control.Event) control.Reply {
	u.t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		var ev control.Reply
		if len(u.pending) > 0 {
			ev, u.pending = u.pending[0], u.pending[1:]
		} else {
			select {
			case e, ok := <-u.C.Events():
				if !ok {
					u.t.Fatalf("connection closed waiting for %s: %v", kind, u.C.Err())
				}
				ev = e
				u.took(ev)
			case <-timeout:
				u.t.Fatalf("no %s event; saw %+v", kind, u.Seen)
			}
		}
		if ev.Event == control.EventChatEnding && answerEnding && u.S != nil {
			// As pi2pictl does: send nothing more, end our side.
			_ = u.S.CloseWrite()
		}
		if ev.Event == kind {
			return ev
		}
		if fail != "" && ev.Event == fail {
			u.t.Fatalf("%s (%q) while waiting for %s", ev.Event, ev.Error, kind)
		}
	}
}

// took records an event taken from the connection and opens the data
// stream at chat-start.
func (u *User) took(ev control.Reply) {
	u.Seen = append(u.Seen, ev)
	if ev.Event == control.EventChatStart {
		u.Token, u.S = ev.Token, nil
		if !u.ManualStream {
			u.OpenStream()
		}
	}
}

// openOwnStream takes the events up to the chat-start that came before a
// chat's result, keeping them for Next, and so opens the stream.
func (u *User) openOwnStream() {
	u.t.Helper()
	for {
		select {
		case ev, ok := <-u.C.Events():
			if !ok {
				return
			}
			u.took(ev)
			u.pending = append(u.pending, ev)
			if ev.Event == control.EventChatStart {
				return
			}
		default:
			return // the chat already ended: no chat-start queued
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

// ReadText collects chat text from the data stream until want has
// arrived, and returns it.
func (u *User) ReadText(want string) string {
	u.t.Helper()
	s := u.Stream()
	var got strings.Builder
	var buf [4096]byte // a line; ReadAll is for more
	for !strings.Contains(got.String(), want) {
		n, err := s.Read(buf[:])
		got.Write(buf[:n])
		if err != nil && !strings.Contains(got.String(), want) {
			u.t.Fatalf("reading the chat: %v after %q", err, got.String())
		}
	}
	return got.String()
}

// ReadAll reads the data stream to its end (the peer's end).
func (u *User) ReadAll() string {
	u.t.Helper()
	b, err := io.ReadAll(u.Stream())
	if err != nil {
		u.t.Fatalf("reading the chat: %v", err)
	}
	return string(b)
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

// Bulk measures chat throughput: from connects to to, then writes b.N
// chunks of 64 KiB to its data stream and waits until to has read them all.
func Bulk(b *testing.B, from, to *User, callee string) {
	from.Must(control.Request{Op: control.OpChat, UserID: callee})
	to.Stream()
	out := from.Stream()
	chunk := []byte(strings.Repeat("x", 64<<10))
	b.SetBytes(int64(len(chunk)))
	done := make(chan int64)
	go func() {
		n, _ := io.CopyN(io.Discard, to.S, int64(b.N*len(chunk)))
		done <- n
	}()
	b.ResetTimer()
	for range b.N {
		if _, err := out.Write(chunk); err != nil {
			b.Fatal(err)
		}
	}
	if n := <-done; n != int64(b.N*len(chunk)) {
		b.Fatalf("received %d bytes", n)
	}
}
