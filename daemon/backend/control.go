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
	delete(t.once, c)
	t.attachOrder = slices.DeleteFunc(t.attachOrder, func(x *controlsock.Conn) bool { return x == c })
	t.mu.Unlock()
}

// chatBegan detaches c if it waited for one chat only (wait with once):
// a `pi2pictl wait` on its way out after its chat must not be handed a
// second caller.
func (t *Terminal) chatBegan(c *controlsock.Conn) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.once[c] {
		delete(t.once, c)
		t.conns[c] = false
		t.attachOrder = slices.DeleteFunc(t.attachOrder, func(x *controlsock.Conn) bool { return x == c })
	}
}

// Handle implements controlsock.Handler. Refusals are errors with a code
// (control.Error); the words for people are pi2pictl's.
func (t *Terminal) Handle(c *controlsock.Conn, req control.Request) (control.Reply, error) {
	switch req.Op {
	case control.OpStatus:
		return control.Reply{Status: t.status()}, nil
	case control.OpLogin:
		return t.startLogin(req.UserID)
	case control.OpKey:
		return control.Reply{}, t.press(req.Key)
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
		if req.Once {
			t.once[c] = true
		}
		t.mu.Unlock()
		s, user, _ := t.m.State()
		return control.Reply{State: s.Name(), UserID: user}, nil
	case control.OpVerify:
		return t.verify(req.UserID, false)
	case control.OpAcceptKey:
		return t.verify(req.UserID, true)
	case control.OpCancelChat:
		t.cancelSetUp(c)
		return control.Reply{}, nil
	case control.OpDropChat:
		return control.Reply{}, t.dropChat(c)
	}
	return control.Reply{}, control.Refusal(control.CodeUsage, "", fmt.Errorf("unknown op %q", req.Op))
}

// status reads the state, the names and the chat at one moment.
func (t *Terminal) status() *control.Status {
	snap := t.m.Snapshot()
	st := t.opt.Info
	st.State, st.UserID, st.Peer = snap.State.Name(), snap.User, snap.Peer
	if t.opt.ServerPin != nil {
		st.ServerFingerprint = t.opt.ServerPin()
	}
	if id := t.opt.Transport.Identity; id != nil && t.opt.Transport.Mode == transport.Secure {
		st.Fingerprint = transport.Fingerprint(id.Public)
	}
	if ch := snap.Chat; ch != nil && ch.peerKey != nil {
		st.PeerFingerprint = transport.Fingerprint(ch.peerKey)
		st.SafetyCode = ch.safety
	}
	return &st
}

// refusal is the refusal of a request the machine did not take.
func refusal(err error) error {
	var se *terminal.ErrState
	if errors.As(err, &se) {
		return stateError(se.State, se.User, se.Peer)
	}
	return control.Refusal(control.CodeInternal, "", err)
}

// stateError is the refusal of an operation that state s does not allow.
func stateError(s terminal.State, user, peer string) error {
	switch s {
	case terminal.LoggedOut:
		return control.Refusal(control.CodeNotLoggedIn, "", nil)
	case terminal.ReadingPasscode, terminal.Authenticating:
		return &control.Error{Code: control.CodeLoggingIn, UserID: user}
	case terminal.LoggedIn:
		return &control.Error{Code: control.CodeLoggedIn, UserID: user}
	case terminal.Chatting:
		return control.Refusal(control.CodeChatting, peer, nil)
	case terminal.LoggingOut:
		return &control.Error{Code: control.CodeLoggingOut, UserID: user}
	}
	return &control.Error{Code: control.CodeSettingUp, Peer: peer, Detail: string(s.Name())}
}

// dirError is the refusal for a failed directory request about peer ("" for
// a login).
func dirError(err error, peer string) error {
	switch {
	case errors.Is(err, directory.ErrNotFound):
		return control.Refusal(control.CodeNotFound, peer, nil)
	case errors.Is(err, directory.ErrRefused):
		return control.Refusal(control.CodeRefused, "", nil)
	case errors.Is(err, directory.ErrKeyChanged):
		return control.Refusal(control.CodeKeyChanged, "", err)
	case errors.Is(err, directory.ErrNotTLS):
		return control.Refusal(control.CodeNotTLS, "", nil)
	case errors.Is(err, directory.ErrHungUp):
		return control.Refusal(control.CodeServerBusy, "", nil)
	}
	return control.Refusal(control.CodeServer, peer, err)
}
