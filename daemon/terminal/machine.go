package terminal

import (
	"cmp"
	"fmt"
	"log/slog"
	"sync"
)

// Change describes one transition, as handed to the Machine's observer.
type Change struct {
	From, To State
	UserID   string // logged-in (or logging-in) user, "" when logged out
	Peer     string // the other side of a chat, "" when none
}

// Labels carries the names a transition brings with it: the user entering
// reading-passcode, the peer entering looking-up or verifying. Empty fields
// keep the current value.
type Labels struct {
	UserID string
	Peer   string
}

// ErrTransition is returned for a transition that Table does not allow or
// whose From is not the current state.
type ErrTransition struct {
	Current, From, To State
}

func (e *ErrTransition) Error() string {
	if e.Current != e.From {
		return fmt.Sprintf("state is %s, not %s", e.Current, e.From)
	}
	return fmt.Sprintf("no transition from %s to %s", e.From, e.To)
}

// Machine holds the terminal's state. It is safe for concurrent use.
type Machine struct {
	mu     sync.Mutex
	state  State
	user   string
	peer   string
	log    *slog.Logger
	notify func(Change)
}

// NewMachine returns a machine in LoggedOut. notify, when not nil, is called
// for every change, in order, while the machine is locked: it must not block
// and must not call back into the machine.
func NewMachine(log *slog.Logger, notify func(Change)) *Machine {
	if log == nil {
		log = slog.Default()
	}
	return &Machine{log: log, notify: notify}
}

// Transition moves from -> to when the machine is in from and Table allows
// the edge; otherwise it refuses with *ErrTransition and changes nothing.
// It logs "state a -> b" with the USERID, PEER and STATE fields.
func (m *Machine) Transition(from, to State, l Labels) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.state != from || !Allowed(from, to) {
		return &ErrTransition{Current: m.state, From: from, To: to}
	}
	// The log line names who was involved, even on the way out.
	logUser, logPeer := m.user, m.peer
	if l.UserID != "" {
		m.user = l.UserID
	}
	if l.Peer != "" {
		m.peer = l.Peer
	}
	switch to {
	case LoggedOut:
		m.user, m.peer = "", ""
	case ReadingPasscode, Authenticating, LoggedIn:
		m.peer = ""
	}
	m.state = to
	c := Change{From: from, To: to, UserID: m.user, Peer: m.peer}
	logUser, logPeer = cmp.Or(c.UserID, logUser), cmp.Or(c.Peer, logPeer)
	m.log.Info(fmt.Sprintf("state %s -> %s", from, to),
		"USERID", logUser, "PEER", logPeer, "STATE", to.String())
	if m.notify != nil {
		m.notify(c)
	}
	return nil
}

// State returns the current state, user and peer.
func (m *Machine) State() (s State, user, peer string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.state, m.user, m.peer
}
