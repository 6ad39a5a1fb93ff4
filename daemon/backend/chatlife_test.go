package backend

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/pi2pi/pi2pi/internal/control"
	"github.com/pi2pi/pi2pi/internal/transport"
)

// nextRaw waits for the next event of kind on u without answering
// chat-ending (controltest.User.Next answers it, as pi2pictl does).
func nextRaw(t *testing.T, u *user, kind control.Event) control.Reply {
	t.Helper()
	return u.NextRaw(kind, control.EventChatEnd)
}

// The end is a half-close: after ali's end, bianca still sends, and ali
// shows it; bianca's text sent before her own end arrives, then both ends.
func TestEndIsHalfClose(t *testing.T) {
	for _, mode := range []transport.Mode{transport.Plain, transport.Secure} {
		t.Run(string(mode), func(t *testing.T) {
			_, _, _, ali, bianca := pair(t, mode)
			ali.Must(control.Request{Op: control.OpChat, UserID: "bianca"})
			nextRaw(t, bianca, control.EventChatStart)
			ali.Send("last words\n")
			ali.End()
			if got := bianca.ReadText("last words\n"); got != "last words\n" {
				t.Fatalf("bianca read %q", got)
			}
			// bianca is asked to end; she still has something to say.
			if ev := nextRaw(t, bianca, control.EventChatEnding); ev.Error != "" {
				t.Fatalf("chat-ending says %q, want the peer's plain end", ev.Error)
			}
			bianca.Send("goodbye, ali\n")
			bianca.End()
			if got := ali.ReadText("goodbye, ali\n"); got != "goodbye, ali\n" {
				t.Fatalf("ali read %q after his end", got)
			}
			for _, u := range []*user{ali, bianca} {
				if ev := nextRaw(t, u, control.EventChatEnd); ev.Error != "" {
					t.Fatalf("chat-end says %q", ev.Error)
				}
			}
			// Exactly one chat-end each.
			for _, u := range []*user{ali, bianca} {
				n := 0
				for _, ev := range u.Seen {
					if ev.Event == control.EventChatEnd {
						n++
					}
				}
				if n != 1 {
					t.Fatalf("%d chat-end events", n)
				}
			}
		})
	}
}

// Text written after the end is refused, not silently dropped.
func TestSendAfterEndRefused(t *testing.T) {
	_, _, _, ali, bianca := pair(t, transport.Plain)
	ali.Must(control.Request{Op: control.OpChat, UserID: "bianca"})
	nextRaw(t, bianca, control.EventChatStart)
	ali.End()
	if _, err := ali.S.Write([]byte("too late\n")); err == nil {
		t.Fatal("a write after the end was accepted")
	}
	bianca.Next(control.EventChatEnd)
	ali.Next(control.EventChatEnd)
}

// A logout asks the owner to end (chat-ending with no reason), lets its
// last sends out, and ends within the budget even when the owner does not
// answer.
func TestLogoutAsksOwnerFirst(t *testing.T) {
	t.Run("owner answers", func(t *testing.T) {
		_, aliT, _, ali, bianca := pair(t, transport.Plain)
		ali.Must(control.Request{Op: control.OpChat, UserID: "bianca"})
		nextRaw(t, bianca, control.EventChatStart)
		other := attach(t, aliT.sock)
		done := make(chan error, 1)
		go func() { _, err := other.Call(control.Request{Op: control.OpLogout}); done <- err }()
		nextRaw(t, ali, control.EventChatEnding)
		ali.Send("accepted before the end\n")
		ali.End()
		bianca.ReadText("accepted before the end\n")
		bianca.Next(control.EventChatEnd)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	})
	t.Run("owner silent", func(t *testing.T) {
		_, aliT, _, ali, bianca := pair(t, transport.Plain)
		ali.Must(control.Request{Op: control.OpChat, UserID: "bianca"})
		nextRaw(t, bianca, control.EventChatStart)
		nextRaw(t, ali, control.EventChatStart) // opens the stream, then says nothing
		other := attach(t, aliT.sock)
		start := time.Now()
		other.Must(control.Request{Op: control.OpLogout})
		if d := time.Since(start); d < EndBudget/2 {
			t.Fatalf("logout did not wait for the owner (%s)", d)
		}
		nextRaw(t, ali, control.EventChatEnd)
		other.WaitState("logged-out")
	})
}

// An owner that hangs up while its send waits for a peer that does not
// read is noticed: the chat ends instead of waiting for ever.
func TestOwnerHangsUpDuringBlockedSend(t *testing.T) {
	srv, aliT, _, ali, _ := pair(t, transport.Plain)
	// A peer that accepts the chat and never reads: a raw listener that
	// the directory names for "zed".
	l, err := net.Listen("tcp", "127.0.0.5:0")
	if err != nil {
		t.Skipf("127.0.0.5: %v", err)
	}
	defer l.Close()
	stop := make(chan struct{})
	served := make(chan struct{})
	defer func() { close(stop); <-served }()
	go func() {
		defer close(served)
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		buf := make([]byte, 512)
		n, _ := c.Read(buf)
		if !strings.Contains(string(buf[:n]), "CONNECTREQ") {
			return
		}
		c.Write([]byte(`{"msgtype":"CONNECTREPLY","status":"ACCEPTED"}`))
		<-stop // and read no more
	}()
	srv.Login("zed", l.Addr().String(), nil)
	ali.Must(control.Request{Op: control.OpChat, UserID: "zed"})
	fillUntilHeld(t, ali) // writes return until the socket buffers are full; then one waits
	ali.C.Close()
	ali.Stream().Close()
	watcher := attach(t, aliT.sock)
	waitFor(t, func() bool { return watcher.State() == "logged-in" })
}
