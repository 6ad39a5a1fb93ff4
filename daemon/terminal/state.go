// Package terminal is the pi2pid state machine: one State type, one Event
// type, one transition table and one function, Machine.Step, that takes an
// event and decides the next state and its effects. The Machine owns the
// state, the user, the peer, the current chat, the pending login and the
// keepalive; everything else in the daemon posts events to it and carries
// out the effects it returns.
//
//	logged-out -> reading-passcode -> authenticating -> logged-in
//	logged-in -> looking-up -> connecting -> awaiting-reply -> chatting  (outgoing)
//	logged-in -> verifying -> chatting                                   (incoming)
//	chatting -> logged-in
//	logged-in or setting up a chat -> logging-out -> logged-out
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
	LoggingOut // the machine took the logout; the server is being told
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
	LoggingOut:      control.StateLoggingOut,
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

// Event is something that happens to the terminal: a request of the
// user, an answer of the server or of a peer, the end of slow work the
// terminal started. Machine.Step takes one event at a time.
type Event int

// The events. Outcomes of slow work (the keypad, the directory, dials)
// are posted by the goroutine that did the work.
const (
	EvLogin        Event = iota // the user asked to log in (Input.User)
	EvPasscode                  // key entry ended with a passcode
	EvKeysFailed                // key entry ended without one: cancel, timeout, empty, no keypad
	EvGranted                   // AUTHREPLY GRANTED (Input.Keepalive)
	EvAuthFailed                // REFUSED, no answer or bad server key
	EvLogout                    // the user asked to log out
	EvSignedOff                 // the server was told of the logout (logout, shutdown)
	EvNotSignedOff              // the server did not confirm the logout: logged out here only
	EvServerForgot              // our own lookup answered NOTFOUND (Input.User)
	EvChat                      // the user asked to chat (Input.Peer, Input.Cancel)
	EvFound                     // LOOKUPREPLY SUCCESS for the peer
	EvLookupFailed              // NOTFOUND, no key or no answer
	EvConnected                 // connected, CONNECTREQ sent
	EvUnreachable               // unreachable or wrong key
	EvAccepted                  // CONNECTREPLY ACCEPTED (Input.Chat)
	EvRefused                   // CONNECTREPLY REFUSED or no answer
	EvConnectReq                // a CONNECTREQ arrived (Input.Peer, Input.Cancel)
	EvVerified                  // initiator checked, ACCEPTED sent (Input.Chat)
	EvNotVerified               // REFUSED sent, or the caller left
	EvChatOver                  // both sides closed, the link broke or the owner left (Input.Chat)
	EvShutdown                  // pi2pid is stopping
	numEvents
)

// eventNames are the events as drawn on the statechart's arrows.
var eventNames = [numEvents]string{
	EvLogin:        "login USERID",
	EvPasscode:     "passcode entered",
	EvKeysFailed:   "cancel, timeout or no keypad",
	EvGranted:      "AUTHREPLY GRANTED",
	EvAuthFailed:   "REFUSED, no answer or bad server key",
	EvLogout:       "logout",
	EvSignedOff:    "server told of the logout",
	EvServerForgot: "server forgot us",
	EvChat:         "chat USERID",
	EvFound:        "LOOKUPREPLY SUCCESS",
	EvLookupFailed: "NOTFOUND, no key or no answer",
	EvConnected:    "connected, CONNECTREQ sent",
	EvUnreachable:  "unreachable or wrong key",
	EvAccepted:     "CONNECTREPLY ACCEPTED",
	EvRefused:      "REFUSED or no answer",
	EvConnectReq:   "CONNECTREQ received",
	EvVerified:     "initiator checked, ACCEPTED sent",
	EvNotVerified:  "REFUSED sent",
	EvChatOver:     "chat over",
	EvShutdown:     "shutdown",

	// No answer, an error, a server without LOGOUTREQ (a course server):
	// the terminal logs out all the same (the user asked), and the server
	// may keep the login until its session timeout.
	EvNotSignedOff: "server did not confirm the logout",
}

// String names the event as the statechart does.
func (e Event) String() string {
	if e < 0 || e >= numEvents {
		return "invalid"
	}
	return eventNames[e]
}

// Events returns every event, in order.
func Events() []Event {
	all := make([]Event, numEvents)
	for i := range all {
		all[i] = Event(i)
	}
	return all
}

// Edge is one allowed transition and the event that causes it.
type Edge struct {
	From  State
	Event Event
	To    State
}

// Table lists every transition. It is the single source of truth for
// Machine.Step (an event moves the state only along an edge of Table) and
// for the generated statechart. Events without an edge from the current
// state change nothing, or only have effects (Machine.Step says which).
var Table = []Edge{
	{LoggedOut, EvLogin, ReadingPasscode},
	{ReadingPasscode, EvPasscode, Authenticating},
	{ReadingPasscode, EvKeysFailed, LoggedOut},
	{Authenticating, EvGranted, LoggedIn},
	{Authenticating, EvAuthFailed, LoggedOut},
	// A logout or shutdown is taken before the server is told (EvSignedOff
	// follows): no chat starts meanwhile. From a chat set-up, it abandons
	// the set-up (the machine calls the set-up's cancel).
	{LoggedIn, EvLogout, LoggingOut},
	{LookingUp, EvLogout, LoggingOut},
	{Connecting, EvLogout, LoggingOut},
	{AwaitingReply, EvLogout, LoggingOut},
	{Verifying, EvLogout, LoggingOut},
	{LoggedIn, EvShutdown, LoggingOut},
	{LookingUp, EvShutdown, LoggingOut},
	{Connecting, EvShutdown, LoggingOut},
	{AwaitingReply, EvShutdown, LoggingOut},
	{Verifying, EvShutdown, LoggingOut},
	{LoggingOut, EvSignedOff, LoggedOut},
	{LoggingOut, EvNotSignedOff, LoggedOut},
	{LoggedIn, EvServerForgot, LoggedOut},
	{LoggedIn, EvChat, LookingUp},
	{LookingUp, EvFound, Connecting},
	{LookingUp, EvLookupFailed, LoggedIn},
	{Connecting, EvConnected, AwaitingReply},
	{Connecting, EvUnreachable, LoggedIn},
	{AwaitingReply, EvAccepted, Chatting},
	{AwaitingReply, EvRefused, LoggedIn},
	{LoggedIn, EvConnectReq, Verifying},
	{Verifying, EvVerified, Chatting},
	{Verifying, EvNotVerified, LoggedIn},
	{Chatting, EvChatOver, LoggedIn},
}

// next is Table as a lookup: next[from][event], ok false for no edge.
var next = func() (n [numStates][numEvents]struct {
	to State
	ok bool
}) {
	for _, e := range Table {
		n[e.From][e.Event].to, n[e.From][e.Event].ok = e.To, true
	}
	return n
}()

// Next returns the state event moves from to, and whether Table has
// that edge.
func Next(from State, event Event) (State, bool) {
	if from < 0 || from >= numStates || event < 0 || event >= numEvents {
		return from, false
	}
	n := next[from][event]
	return n.to, n.ok
}

// Allowed reports whether Table holds a transition from -> to.
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
	case LoggingOut:
		return "Logging " + user + " out"
	}
	return s.String()
}
