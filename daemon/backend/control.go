package backend

import (
	"errors"
	"fmt"
	"slices"

	"github.com/pi2pi/pi2pi/daemon/controlsock"
	"github.com/pi2pi/pi2pi/daemon/directory"
	"github.com/pi2pi/pi2pi/daemon/terminal"
	"github.com/pi2pi/pi2pi/internal/control"
	"github.com/pi2pi/pi2pi/internal/transport"
)

// Connected implements controlsock.Handler.
func (t *Terminal) Connected(c *controlsock.Conn) {
	t.mu.Lock()
	t.conns[c] = false
	t.mu.Unlock()
}

// Disconnected implements controlsock.Handler. A chat owned by c ends
// because c's Done channel is closed.
func (t *Terminal) Disconnected(c *controlsock.Conn) {
	t.mu.Lock()
	delete(t.conns, c)
	t.attachOrder = slices.DeleteFunc(t.attachOrder, func(x *controlsock.Conn) bool { return x == c })
	t.mu.Unlock()
}

func fail(code, format string, args ...any) control.Reply {
	return control.Reply{Code: code, Error: fmt.Sprintf(format, args...)}
}

// Handle implements controlsock.Handler.
func (t *Terminal) Handle(c *controlsock.Conn, req control.Request) control.Reply {
	switch req.Op {
	case control.OpStatus:
		return control.Reply{Status: t.status()}
	case control.OpLogin:
		return t.startLogin(req.UserID)
	case control.OpKey:
		return t.press(req.Key)
	case control.OpLogout:
		return t.logout()
	case control.OpChat:
		return t.call(c, req.UserID)
	case control.OpWait:
		t.mu.Lock()
		if !t.conns[c] {
			t.conns[c] = true
			t.attachOrder = append(t.attachOrder, c)
		}
		t.mu.Unlock()
		s, user, _ := t.m.State()
		return control.Reply{State: s.String(), UserID: user}
	case control.OpSend:
		ch := t.chatOf(c)
		if ch == nil {
			return fail(control.CodeState, "no chat in progress: start one with pi2pictl chat USERID")
		}
		if err := ch.send(c, req.Text); err != nil {
			// The chat ends with the reason (EventChatEnd).
			return fail(control.CodeUnreachable, "sending to %s failed: %v", ch.peer, err)
		}
		return control.Reply{}
	case control.OpEnd:
		ch := t.chatOf(c)
		if ch == nil {
			return fail(control.CodeState, "no chat in progress")
		}
		// The text sent before this request is written; the chat ends
		// (EventChatEnd) once the peer has closed its side too.
		ch.ownerEnd()
		return control.Reply{}
	case control.OpVerify:
		return t.verify(req.UserID, false)
	case control.OpAcceptKey:
		return t.verify(req.UserID, true)
	}
	return fail(control.CodeUsage, "unknown op %q", req.Op)
}

func (t *Terminal) chatOf(c *controlsock.Conn) *activeChat {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.chat != nil && t.chat.owner == c {
		return t.chat
	}
	return nil
}

func (t *Terminal) status() *control.Status {
	s, user, peer := t.m.State()
	st := t.opt.Info
	st.State, st.UserID, st.Peer = s.String(), user, peer
	if t.opt.ServerPin != nil {
		st.ServerFingerprint = t.opt.ServerPin()
	}
	if id := t.opt.Transport.Identity; id != nil && t.opt.Transport.Mode == transport.Secure {
		st.Fingerprint = transport.Fingerprint(id.Public)
	}
	t.mu.Lock()
	if ch := t.chat; ch != nil && ch.peerKey != nil {
		st.PeerFingerprint = transport.Fingerprint(ch.peerKey)
		st.SafetyCode = ch.safety
	}
	t.mu.Unlock()
	return &st
}

// stateError explains why an operation is not possible in state s.
func stateError(s terminal.State, user, peer string) control.Reply {
	switch s {
	case terminal.LoggedOut:
		return fail(control.CodeState, "not logged in: run pi2pictl login first")
	case terminal.ReadingPasscode, terminal.Authenticating:
		return fail(control.CodeState, "a login of %s is in progress", user)
	case terminal.Chatting:
		return fail(control.CodeBusy, "already chatting with %s: end that chat first", peer)
	}
	return fail(control.CodeBusy, "busy (%s): try again in a moment", terminal.Words(s, user, peer))
}

// dirError turns a directory error into a refusal for people.
func dirError(err error, what string) control.Reply {
	switch {
	case errors.Is(err, directory.ErrNotFound):
		return fail(control.CodeNotFound, "%s", err.Error())
	case errors.Is(err, directory.ErrRefused):
		return fail(control.CodeRefused, "login refused: wrong user ID or passcode, or the account is locked")
	case errors.Is(err, directory.ErrKeyChanged):
		return fail(control.CodeKeyChanged, "%s: %v", what, err)
	}
	return fail(control.CodeUnreachable, "%s: %v", what, err)
}
