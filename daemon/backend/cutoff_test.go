package backend

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/pi2pi/pi2pi/internal/control"
	"github.com/pi2pi/pi2pi/internal/transport"
)

// fillUntilHeld writes to u's data stream until a write is held up for
// half a second (the peer takes nothing), and returns what was written.
func fillUntilHeld(t *testing.T, u *user) []byte {
	t.Helper()
	var sent bytes.Buffer
	s := u.Stream()
	chunk := []byte(strings.Repeat("0123456789abcde\n", 4<<10))
	for i := 0; ; i++ {
		_ = s.SetWriteDeadline(time.Now().Add(500 * time.Millisecond))
		n, err := s.Write(chunk)
		sent.Write(chunk[:n])
		if err != nil {
			break
		}
		copy(chunk, []byte{byte('A' + i%26)}) // tell the chunks apart
	}
	_ = s.SetWriteDeadline(time.Time{})
	return sent.Bytes()
}

// A logout whose chat cannot end within its budget, because the peer's
// pi2pictl takes nothing, does not pass for an ordinary end on either
// side: the owner is told the chat was cut off (the last of its text may
// not have arrived), and the peer, once it reads again, gets an in-order
// beginning of the text and is told the connection broke. Before, both
// sides saw an ordinary end and the peer missed up to a few hundred KiB.
func TestLogoutCutsOffAStalledPeer(t *testing.T) {
	for _, mode := range []transport.Mode{transport.Plain, transport.Secure} {
		t.Run(string(mode), func(t *testing.T) {
			_, aliT, _, ali, bianca := pair(t, mode)
			ali.Must(control.Request{Op: control.OpChat, UserID: "bianca"})
			nextRaw(t, bianca, control.EventChatStart) // bianca's stream open, never read
			sent := fillUntilHeld(t, ali)
			other := attach(t, aliT.sock)
			other.Must(control.Request{Op: control.OpLogout})
			end := ali.NextRaw(control.EventChatEnd, "")
			if end.Code != control.CodeCutOff || !strings.Contains(end.Error, "logout") {
				t.Fatalf("ali's chat-end: code %q, error %q; want %q, saying logout", end.Code, end.Error, control.CodeCutOff)
			}
			got, _ := io.ReadAll(bianca.Stream())
			if !bytes.HasPrefix(sent, got) {
				t.Fatalf("bianca read %d bytes that are not a beginning of the %d sent", len(got), len(sent))
			}
			bend := nextRaw(t, bianca, control.EventChatEnd)
			if bend.Code != control.CodeBroken && bend.Code != control.CodeSendFailed {
				t.Fatalf("bianca's chat-end after %d of %d bytes: code %q (%q), want %q: the cut must not pass for an ordinary end",
					len(got), len(sent), bend.Code, bend.Error, control.CodeBroken)
			}
		})
	}
}

// A pi2pictl that leaves after the chat's start but before it opened the
// data stream (CTRL-C on `pi2pictl wait` as the chat arrives) never
// showed anything: the caller is told the chat broke, not shown an
// ordinary end, and the callee's terminal is free again at once.
func TestOwnerLeavesBeforeItsStream(t *testing.T) {
	for _, mode := range []transport.Mode{transport.Plain, transport.Secure} {
		t.Run(string(mode), func(t *testing.T) {
			_, _, biancaT, ali, bianca := pair(t, mode)
			bianca.ManualStream = true
			ali.Must(control.Request{Op: control.OpChat, UserID: "bianca"})
			ali.Send("hello, are you there?\n")
			nextRaw(t, bianca, control.EventChatStart)
			bianca.C.Close() // gone, its stream never opened
			end := ali.NextRaw(control.EventChatEnd, "")
			if end.Code != control.CodeBroken && end.Code != control.CodeSendFailed {
				t.Fatalf("ali's chat-end: code %q (%q), want %q or %q", end.Code, end.Error, control.CodeBroken, control.CodeSendFailed)
			}
			watcher := attach(t, biancaT.sock)
			waitFor(t, func() bool { return watcher.State() == "logged-in" })
		})
	}
}

// A pi2pictl that leaves while the peer's text is coming (a second CTRL-C
// on `pi2pictl wait`) does not show the rest: the peer is told the chat
// broke, not shown an ordinary end. (Closing a socket with unread bytes
// resets it anyway; pi2pid does not rely on that: the receiving copy's
// failure to write to a departed owner ends the chat as cut off.)
func TestOwnerLeavesWhilePeerSends(t *testing.T) {
	for _, mode := range []transport.Mode{transport.Plain, transport.Secure} {
		t.Run(string(mode), func(t *testing.T) {
			_, _, biancaT, ali, bianca := pair(t, mode)
			ali.Must(control.Request{Op: control.OpChat, UserID: "bianca"})
			nextRaw(t, bianca, control.EventChatStart)
			fillUntilHeld(t, ali) // bianca reads nothing of it
			bianca.S.Close()
			bianca.C.Close()
			end := ali.NextRaw(control.EventChatEnd, "")
			if end.Code != control.CodeBroken && end.Code != control.CodeSendFailed {
				t.Fatalf("ali's chat-end: code %q (%q), want %q or %q", end.Code, end.Error, control.CodeBroken, control.CodeSendFailed)
			}
			watcher := attach(t, biancaT.sock)
			waitFor(t, func() bool { return watcher.State() == "logged-in" })
		})
	}
}
