// Package terminal is the pi2pid state machine: one State type, one
// transition table and one function, Machine.Transition, that changes the
// state. Everything else in the daemon asks the Machine to move; nothing
// assigns a state directly.
//
//	logged-out -> reading-passcode -> authenticating -> logged-in
//	logged-in -> looking-up -> connecting -> awaiting-reply -> chatting  (outgoing)
//	logged-in -> verifying -> chatting                                   (incoming)
//	chatting -> logged-in
//
// The statechart in docs/statechart.md is generated from Table by
// `go generate ./daemon/terminal`; a test fails when it is stale.
package terminal

//go:generate go run ./gen -o ../../docs/statechart.md

import "github.com/pi2pi/pi2pi/internal/control"

// State is where the terminal is in the course handouts' flow.
type State int

// The states of a terminal.
const (
	LoggedOut State = iota
	ReadingPasscode
	Authenticating
	LoggedIn // and listening on the peer port
	LookingUp
	Connecting
	AwaitingReply
	Verifying // an incoming CONNECTREQ, checked with our own LOOKUPREQ
	Chatting
	numStates
)

// stateNames are the states' names in the control API.
var stateNames = [numStates]control.State{
	LoggedOut:       control.StateLoggedOut,
	ReadingPasscode: control.StateReadingPasscode,
	Authenticating:  control.StateAuthenticating,
	LoggedIn:        control.StateLoggedIn,
	LookingUp:       control.StateLookingUp,
	Connecting:      control.StateConnecting,
	AwaitingReply:   control.StateAwaitingReply,
	Verifying:       control.StateVerifying,
	Chatting:        control.StateChatting,
}

// String returns the state's name as shown by pi2pictl and in logs.
func (s State) String() string { return string(s.Name()) }

// Name returns the state's name in the control API.
func (s State) Name() control.State {
	if s < 0 || s >= numStates {
		return "invalid"
	}
	return stateNames[s]
}

// States returns every state, in order.
func States() []State {
	all := make([]State, numStates)
	for i := range all {
		all[i] = State(i)
	}
	return all
}

// ParseState returns the state named s.
func ParseState(s string) (State, bool) {
	for i, n := range stateNames {
		if string(n) == s {
			return State(i), true
		}
	}
	return 0, false
}

// Edge is one allowed transition and what causes it.
type Edge struct {
	From, To State
	Event    string
}

// Table lists every allowed transition. It is the single source of truth
// for Machine.Transition and for the generated statechart.
var Table = []Edge{
	{LoggedOut, ReadingPasscode, "login"},
	{ReadingPasscode, Authenticating, "enter key"},
	{ReadingPasscode, LoggedOut, "cancel, timeout or logout"},
	{Authenticating, LoggedIn, "AUTHREPLY GRANTED"},
	{Authenticating, LoggedOut, "REFUSED, no answer or bad server key"},
	{LoggedIn, LoggedOut, "logout, or the server forgot us"},
	{LoggedIn, LookingUp, "chat USERID"},
	{LookingUp, Connecting, "LOOKUPREPLY SUCCESS"},
	{LookingUp, LoggedIn, "NOTFOUND or no answer"},
	{Connecting, AwaitingReply, "connected, CONNECTREQ sent"},
	{Connecting, LoggedIn, "unreachable or wrong key"},
	{AwaitingReply, Chatting, "CONNECTREPLY ACCEPTED"},
	{AwaitingReply, LoggedIn, "REFUSED or no answer"},
	{LoggedIn, Verifying, "CONNECTREQ received"},
	{Verifying, Chatting, "initiator checked, ACCEPTED sent"},
	{Verifying, LoggedIn, "REFUSED sent"},
	{Chatting, LoggedIn, "either side ends the chat"},
}

// Allowed reports whether Table holds the transition from -> to.
func Allowed(from, to State) bool {
	for _, e := range Table {
		if e.From == from && e.To == to {
			return true
		}
	}
	return false
}

// Words describes a state for people, e.g. in systemd's STATUS=.
func Words(s State, user, peer string) string {
	switch s {
	case LoggedOut:
		return "Logged out"
	case ReadingPasscode:
		return "Reading the passcode of " + user + " from the keypad"
	case Authenticating:
		return "Logging in as " + user
	case LoggedIn:
		return "Logged in as " + user + ", listening"
	case LookingUp:
		return "Looking up " + peer
	case Connecting:
		return "Connecting to " + peer
	case AwaitingReply:
		return "Waiting for " + peer + " to accept"
	case Verifying:
		return "Checking a chat request from " + peer
	case Chatting:
		return "Chatting with " + peer
	}
	return s.String()
}
