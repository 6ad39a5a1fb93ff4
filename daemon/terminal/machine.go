package terminal

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"sync"
)

// Change describes one transition, as handed to the Machine's observer.
type Change struct {
	From, To State
	Event    Event
	UserID   string // logged-in (or logging-in) user, "" when logged out
	Peer     string // the other side of a chat, "" when none
	HasChat  bool   // the machine holds a chat after the change
}

// Input is one event and what it brings to the machine. C is the type of
// the chat handle (daemon/backend's chat).
type Input[C comparable] struct {
	Event Event
	User  string // EvLogin: who logs in
	Peer  string // EvChat, EvConnectReq: the other side
	// Chat: EvAccepted, EvVerified: the chat that begins; EvChatOver:
	// the chat that is over.
	Chat C
	// Cancel (EvLogin) abandons the passcode entry; Cancel (EvChat,
	// EvConnectReq) abandons the chat set-up; Keepalive (EvGranted) stops
	// the keepalive. The machine keeps them while the login is pending,
	// the set-up runs or the terminal is logged in; what it does not keep
	// comes back in Effects, to be called. A set-up's Cancel is called
	// only when a logout or shutdown abandons the set-up: when the set-up
	// ends by itself, its owner cancels its own work.
	Cancel    func()
	Keepalive func()
	// SetUp (the outcomes of a chat set-up: EvFound .. EvNotVerified)
	// names the set-up, as Effects.SetUp named it when it began: the
	// outcome of a set-up that a logout abandoned is refused, even when
	// a new set-up runs by then.
	SetUp uint64
}

// Effects is what a Step asks its caller to do, outside the machine's
// lock. The observer (control clients' state events, systemd) has
// already been told of the move, in order.
type Effects[C comparable] struct {
	Moved    bool
	From, To State
	// User and Peer are those of the step: after it, or, on the way
	// out, before it (the user who logged out, the peer of the chat
	// that ended).
	User, Peer string
	// EndChat is a chat to ask to end (logout, the server forgot us,
	// shutdown); the state moves when it is over (EvChatOver).
	EndChat C
	// SetUp names the chat set-up that EvChat or EvConnectReq began.
	SetUp uint64
	// release are cancels to call: the pending login's, the keepalive's.
	release []func()
}

// Do calls the cancels the step released: the pending login's, the
// keepalive's. It is safe to call on the zero Effects.
func (e Effects[C]) Do() {
	for _, f := range e.release {
		if f != nil {
			f()
		}
	}
}

// ErrState refuses an event that the current state does not take.
type ErrState struct {
	Event      Event
	State      State
	User, Peer string
}

func (e *ErrState) Error() string {
	return fmt.Sprintf("%s: not taken in state %s", e.Event, e.State)
}

// ErrSelf refuses a chat with oneself.
var ErrSelf = errors.New("a chat with oneself")

// Snapshot is everything the machine holds, read at one moment.
type Snapshot[C comparable] struct {
	State      State
	User, Peer string
	Chat       C      // non-zero exactly when State is Chatting
	SetUp      uint64 // the current or last chat set-up
}

// Machine owns the terminal's state, user, peer, current chat, pending
// login and keepalive. It is safe for concurrent use: Step runs under one
// lock.
type Machine[C comparable] struct {
	mu          sync.Mutex
	state       State
	user, peer  string
	chat        C
	loginCancel func()
	setupCancel func() // the chat set-up's, while LookingUp..AwaitingReply or Verifying
	setup       uint64 // names the current (or last) chat set-up
	keepalive   func()
	log         *slog.Logger
	notify      func(Change)
	// held is the announcement (log line, observer) of a move into
	// Verifying, made with the next step or by Announce: verifying lasts
	// one lookup, on the critical path of an incoming chat, and its
	// announcement would take a write and a wake-up from that path.
	held *announcement
}

// announcement is what a move tells the log and the observer.
type announcement struct {
	c          Change
	user, peer string // for the log line, named even on the way out
}

// NewMachine returns a machine in LoggedOut. notify, when not nil, is called
// for every change, in order, while the machine is locked: it must not block
// and must not call back into the machine.
func NewMachine[C comparable](log *slog.Logger, notify func(Change)) *Machine[C] {
	if log == nil {
		log = slog.Default()
	}
	return &Machine[C]{log: log, notify: notify}
}

// Step takes one event: it decides, from the state and Table, the next
// state and the effects, records the move and tells the observer. An
// event the state does not take changes nothing and is refused with
// *ErrState (or ErrSelf); the cancels it brought come back in Effects.
func (m *Machine[C]) Step(in Input[C]) (Effects[C], error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.announceHeld()
	eff := Effects[C]{From: m.state, To: m.state, User: m.user, Peer: m.peer}
	var zero C
	if in.Event == EvServerForgot && in.User != m.user {
		return m.handBack(eff, in), nil // about a login that is over
	}
	to, ok := Next(m.state, in.Event)
	switch {
	case ok && in.Event == EvChat && in.Peer == m.user:
		return m.handBack(eff, in), ErrSelf
	case ok && (in.Event == EvAccepted || in.Event == EvVerified) && in.Chat == zero:
		ok = false // a chat needs its handle
	case ok && in.Event == EvChatOver && in.Chat != m.chat:
		ok = false // another chat's end
	case ok && isOutcome(in.Event) && in.SetUp != m.setup:
		ok = false // an abandoned set-up's outcome
	case !ok:
		return m.sideEffects(eff, in)
	}
	if !ok {
		return m.handBack(eff, in), m.refusal(in.Event)
	}
	m.move(&eff, in, to)
	return eff, nil
}

// sideEffects handles an event with no edge from the current state:
// some have effects only (a logout while the passcode is read cancels the
// entry; a logout while chatting ends the chat first), others are refused.
func (m *Machine[C]) sideEffects(eff Effects[C], in Input[C]) (Effects[C], error) {
	switch {
	case in.Event == EvLogout && m.state == ReadingPasscode,
		in.Event == EvShutdown && m.state == ReadingPasscode:
		eff = m.handBack(eff, in)
		eff.release = append(eff.release, m.loginCancel)
		return eff, nil
	case (in.Event == EvLogout || in.Event == EvServerForgot || in.Event == EvShutdown) && m.state == Chatting:
		eff.EndChat = m.chat
		return m.handBack(eff, in), nil
	case in.Event == EvShutdown, in.Event == EvServerForgot:
		return m.handBack(eff, in), nil // nothing to do here
	}
	return m.handBack(eff, in), m.refusal(in.Event)
}

// isOutcome reports whether ev is the outcome of a chat set-up's work.
func isOutcome(ev Event) bool {
	switch ev {
	case EvFound, EvLookupFailed, EvConnected, EvUnreachable, EvAccepted, EvRefused, EvVerified, EvNotVerified:
		return true
	}
	return false
}

func (m *Machine[C]) refusal(ev Event) error {
	return &ErrState{Event: ev, State: m.state, User: m.user, Peer: m.peer}
}

// handBack returns the cancels in brought that the machine does not keep.
func (m *Machine[C]) handBack(eff Effects[C], in Input[C]) Effects[C] {
	for _, f := range []func(){in.Cancel, in.Keepalive} {
		if f != nil {
			eff.release = append(eff.release, f)
		}
	}
	return eff
}

// move makes the transition to `to` for in, with everything it carries:
// the names, the chat, the pending login and the keepalive.
func (m *Machine[C]) move(eff *Effects[C], in Input[C], to State) {
	var zero C
	from := m.state
	if from == ReadingPasscode && m.loginCancel != nil {
		eff.release = append(eff.release, m.loginCancel) // the entry is over
		m.loginCancel = nil
	}
	if from == Chatting {
		m.chat = zero
	}
	if m.setupCancel != nil && to != Connecting && to != AwaitingReply {
		if to == LoggingOut {
			eff.release = append(eff.release, m.setupCancel) // abandoned
		}
		m.setupCancel = nil
	}
	switch to {
	case LoggedOut:
		if m.keepalive != nil {
			eff.release = append(eff.release, m.keepalive)
			m.keepalive = nil
		}
		m.user, m.peer = "", ""
	case ReadingPasscode: // EvLogin
		m.user, m.peer, m.loginCancel = in.User, "", in.Cancel
	case Authenticating:
	case LoggedIn:
		m.peer = ""
		if in.Event == EvGranted {
			m.keepalive = in.Keepalive
		}
	case LookingUp, Verifying: // EvChat, EvConnectReq
		m.setup++
		m.peer, m.setupCancel = in.Peer, in.Cancel
	case Chatting:
		m.chat = in.Chat
	case LoggingOut:
		m.peer = "" // a set-up it abandons is over
	}
	if in.Event != EvLogin && in.Event != EvChat && in.Event != EvConnectReq && in.Cancel != nil {
		eff.release = append(eff.release, in.Cancel)
	}
	if in.Event != EvGranted && in.Keepalive != nil {
		eff.release = append(eff.release, in.Keepalive)
	}
	m.state = to
	eff.Moved, eff.To, eff.SetUp = true, to, m.setup
	// The step names who was involved, even on the way out.
	eff.User, eff.Peer = cmp.Or(m.user, eff.User), cmp.Or(m.peer, eff.Peer)
	a := &announcement{c: Change{From: from, To: to, Event: in.Event, UserID: m.user, Peer: m.peer, HasChat: m.chat != zero},
		user: eff.User, peer: eff.Peer}
	if to == Verifying {
		m.held = a
		return
	}
	m.announce(a)
}

func (m *Machine[C]) announce(a *announcement) {
	c := a.c
	m.log.Info("state "+c.From.String()+" -> "+c.To.String(),
		"USERID", a.user, "PEER", a.peer, "STATE", c.To.String(), "EVENT", c.Event.String())
	if m.notify != nil {
		m.notify(c)
	}
}

func (m *Machine[C]) announceHeld() {
	if a := m.held; a != nil {
		m.held = nil
		m.announce(a)
	}
}

// Announce makes a held announcement (the move into Verifying) now, when
// the lookup that Verifying waits for takes longer than a moment.
func (m *Machine[C]) Announce() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.announceHeld()
}

// State returns the current state, user and peer.
func (m *Machine[C]) State() (s State, user, peer string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.state, m.user, m.peer
}

// Snapshot returns the state, the names and the chat, read together.
func (m *Machine[C]) Snapshot() Snapshot[C] {
	m.mu.Lock()
	defer m.mu.Unlock()
	return Snapshot[C]{State: m.state, User: m.user, Peer: m.peer, Chat: m.chat, SetUp: m.setup}
}
