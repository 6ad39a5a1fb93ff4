// Package control is the local API between pi2pid and its clients
// (pi2pictl, tests): newline-delimited JSON over a Unix socket.
//
// A session starts with a hello in each direction; the client refuses a
// daemon of another version and the daemon refuses a client of another
// version, each saying which side to upgrade. After that the client sends
// Requests, each with a fresh ID, and the daemon answers each with exactly
// one Reply of type "result" carrying the same ID. Independently, the daemon
// pushes Replies of type "event" (see the Event* constants); a client
// subscribes simply by being connected, and should read events before it
// acts on a result.
//
// Chat ownership: the connection that sends "chat" owns the outgoing chat.
// A connection that sends "wait" is attached: it will be handed the next
// incoming chat (an "chat-start" event with Direction "incoming"); with no
// attached connection an incoming chat is refused as "away". Only the owner
// receives "line" events and may "send" and "end". When the owner
// disconnects, the chat ends.
package control

import (
	"bufio"
	"errors"
	"fmt"
)

// Version is the control protocol version. Bump it on any incompatible
// change.
const Version = 1

// MaxLine bounds one JSON line in either direction.
const MaxLine = 256 << 10

// ErrLineTooLong is returned by ReadLine for a line over MaxLine bytes.
var ErrLineTooLong = fmt.Errorf("control line over %d bytes", MaxLine)

// ReadLine returns the next line of a control connection (either side)
// without its end, or ErrLineTooLong. The line is valid until the next
// read: it lies in r's buffer, or in *scratch when it is longer.
func ReadLine(r *bufio.Reader, scratch *[]byte) ([]byte, error) {
	line, isPrefix, err := r.ReadLine()
	if err != nil || !isPrefix {
		return line, err
	}
	buf := append((*scratch)[:0], line...)
	for isPrefix {
		line, isPrefix, err = r.ReadLine()
		if err != nil {
			return nil, err
		}
		buf = append(buf, line...)
		if len(buf) > MaxLine {
			return nil, ErrLineTooLong
		}
	}
	*scratch = buf
	return buf, nil
}

// Operations a client may request.
const (
	OpHello  = "hello"  // Version: the client's version
	OpStatus = "status" // Result.Status
	// OpLogin while logged in first has pi2pid confirm its login with the
	// server: still known, it is refused (CodeState); forgotten, pi2pid
	// logs out (EventLoggedOut) and goes on. Without UserID it only
	// confirms, and Result.State is "logged-out" when the server forgot.
	OpLogin  = "login" // UserID; starts passcode entry, outcome as EventLogin
	OpKey    = "key"   // Key: one keypad key ("0"-"9", "A"-"D", "*", "#"), console keypad only
	OpLogout = "logout"
	OpChat   = "chat"   // UserID: the callee; result once the chat started or was refused
	OpWait   = "wait"   // attach: take the next incoming chat
	OpSend   = "send"   // Text: bytes to send to the peer (UTF-8, usually a line ending in "\n")
	OpEnd    = "end"    // end the chat after everything sent so far has gone out
	OpVerify = "verify" // UserID: Result.SafetyCode and fingerprints for that user
	// OpAcceptKey records the key that verify shows for UserID as the one
	// accepted: chats with it warn no more. Result.Status has the
	// fingerprints.
	OpAcceptKey = "accept-key"
)

// Reply types.
const (
	TypeHello  = "hello"
	TypeResult = "result"
	TypeEvent  = "event"
)

// Events pushed by the daemon.
const (
	EventState     = "state"      // State (and UserID) after every transition; to every connection
	EventPasscode  = "passcode"   // passcode entry started; Keypad says "console" or "gpio"
	EventLogin     = "login"      // OK, UserID, FailedAttempts, or Error/Code
	EventChatStart = "chat-start" // Peer, Direction, SafetyCode, Warning; to the chat's owner
	EventLine      = "line"       // Text received from the peer; to the chat's owner
	EventChatEnd   = "chat-end"   // Error says why when not a normal end; to the chat's owner
	// EventChatEnding asks the chat's owner to end the chat: the peer
	// closed its side (Error "") or pi2pid must end it (logout, shutdown;
	// Error says why). The owner sends nothing more and answers with
	// OpEnd, which pi2pid handles after the sends before it, so no text
	// the owner accepted is lost. EventChatEnd follows once both sides
	// are closed.
	EventChatEnding = "chat-ending"
	EventLoggedOut  = "logged-out" // the server forgot us, or logout; Error says why
)

// Error codes in Reply.Code.
const (
	CodeUsage       = "usage"       // malformed request, unknown op
	CodeVersion     = "version"     // protocol versions differ
	CodeState       = "state"       // not possible in the current state (e.g. chat while logged out)
	CodeRefused     = "refused"     // login refused, or the peer refused the chat
	CodeNotFound    = "notfound"    // the user is not logged in
	CodeBusy        = "busy"        // the peer or we are already chatting
	CodeAway        = "away"        // nobody is attached to take the chat
	CodeUnreachable = "unreachable" // server or peer could not be reached
	CodeKeyChanged  = "key-changed" // a pinned key changed
	CodeNoConsole   = "no-console"  // key presses sent to a daemon without a console keypad
	CodeCancelled   = "cancelled"   // passcode entry cancelled
	CodeTimedOut    = "timed-out"   // passcode entry abandoned: no key pressed for too long
	CodeInternal    = "internal"    // anything else
	CodeConfig      = "config"      // pi2pid cannot start: its settings are wrong (in the hello)
)

// Request is one line from client to daemon.
type Request struct {
	ID      int    `json:"id"`
	Op      string `json:"op"`
	Version int    `json:"version,omitempty"`
	UserID  string `json:"userid,omitempty"`
	Key     string `json:"key,omitempty"`
	Text    string `json:"text,omitempty"`
}

// Reply is one line from daemon to client: a hello, a result or an event.
type Reply struct {
	Type    string `json:"type"`
	ID      int    `json:"id,omitempty"`
	Version int    `json:"version,omitempty"`
	Daemon  string `json:"daemon,omitempty"` // daemon build, in hello

	OK    bool   `json:"ok,omitempty"`
	Error string `json:"error,omitempty"` // for people: what happened and what to do
	Code  string `json:"code,omitempty"`

	Event      string  `json:"event,omitempty"`
	State      string  `json:"state,omitempty"`
	UserID     string  `json:"userid,omitempty"`
	Keypad     string  `json:"keypad,omitempty"`
	Peer       string  `json:"peer,omitempty"`
	Direction  string  `json:"direction,omitempty"` // "outgoing" or "incoming"
	Text       string  `json:"text,omitempty"`
	SafetyCode string  `json:"safety_code,omitempty"`
	Warning    string  `json:"warning,omitempty"`
	Status     *Status `json:"status,omitempty"`
	// FailedAttempts, in a successful login event: failed login attempts
	// on the account since the previous login, as the server counted them.
	FailedAttempts int `json:"failed_attempts,omitempty"`
}

// Status describes the daemon, for `pi2pictl status`.
type Status struct {
	State             string `json:"state"`
	UserID            string `json:"userid,omitempty"`
	Server            string `json:"server"`
	Security          string `json:"security"`
	Keypad            string `json:"keypad"`
	Listen            string `json:"listen"`
	Fingerprint       string `json:"fingerprint,omitempty"`        // ours
	ServerFingerprint string `json:"server_fingerprint,omitempty"` // pinned server key
	// ServerPin says how the server key is pinned: "configured" (the
	// server-fingerprint setting) or "first-use" (trust on first use).
	ServerPin       string `json:"server_pin,omitempty"`
	Peer            string `json:"peer,omitempty"`
	PeerFingerprint string `json:"peer_fingerprint,omitempty"`
	SafetyCode      string `json:"safety_code,omitempty"`
}

// Error is a refused request.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Message }

// CodeOf returns the code of an *Error in err's chain, or "".
func CodeOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}
