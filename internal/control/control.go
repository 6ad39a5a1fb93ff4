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
// attached connection an incoming chat is refused as "away". The chat's
// text does not cross this connection: the "chat-start" event carries a
// one-time Token, and the owner opens a second connection whose one request
// is {"op":"stream","token":...}; after its result that connection carries
// the chat's raw bytes both ways (see Stream and docs/protocol.md). When the
// owner disconnects, the chat ends.
package control

import (
	"bufio"
	"fmt"
)

// Version is the control protocol version. Bump it on any incompatible
// change. v2: console keys are meanings (KeyEnter, ...), not keypad letters;
// refusals carry a code and a technical detail, not a sentence; a changed
// peer key is OldFingerprint, not a warning in words. v3: chat text
// travels on a data stream of its own (OpStream), not in send requests
// and line events.
const Version = 3

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

// Op is a request a client may send.
type Op string

// Operations a client may request.
const (
	OpHello  Op = "hello"  // Version: the client's version
	OpStatus Op = "status" // Result.Status
	// OpLogin while logged in first has pi2pid confirm its login with the
	// server: still known, it is refused (CodeLoggedIn); forgotten, pi2pid
	// logs out (EventLoggedOut) and goes on. Without UserID it only
	// confirms, and Result.State is StateLoggedOut when the server forgot.
	OpLogin  Op = "login" // UserID; starts passcode entry, outcome as EventLogin
	OpKey    Op = "key"   // Key: one key meaning (see Key), console keypad only
	OpLogout Op = "logout"
	OpChat   Op = "chat" // UserID: the callee; result once the chat started or was refused
	OpWait   Op = "wait" // attach: take the next incoming chat
	// OpStream is the first and only request of a chat's data stream
	// connection (no hello before it): Token from EventChatStart. After
	// its result the connection carries raw chat bytes (DialStream).
	OpStream Op = "stream"
	OpVerify Op = "verify" // UserID: Result.SafetyCode and fingerprints for that user
	// OpAcceptKey records the key that verify shows for UserID as the one
	// accepted: chats with it warn no more. Result.Status has the
	// fingerprints.
	OpAcceptKey Op = "accept-key"
	// OpCancelChat abandons this connection's chat request under way
	// (CTRL-C while connecting): its result is CodeChatCancelled, and no
	// chat starts unless it had started already. Closing the connection
	// does the same.
	OpCancelChat Op = "cancel-chat"
	// OpDropChat ends this connection's chat at once because the client
	// cannot show what the peer sends (its output failed): pi2pid resets
	// the connection to the peer (TCP RST), so the peer is told the chat
	// broke rather than that it ended well, and sends chat-end. Refused
	// (CodeNoChat) when the connection owns no chat.
	OpDropChat Op = "drop-chat"
)

// Ops lists every operation, for the daemon's check of requests.
var Ops = []Op{OpHello, OpStatus, OpLogin, OpKey, OpLogout, OpChat, OpWait, OpStream, OpVerify, OpAcceptKey, OpCancelChat, OpDropChat}

// Type says what a Reply is.
type Type string

// Reply types.
const (
	TypeHello  Type = "hello"
	TypeResult Type = "result"
	TypeEvent  Type = "event"
)

// Event names an event pushed by the daemon.
type Event string

// Events pushed by the daemon.
const (
	EventState     Event = "state"      // State (and UserID) after every transition; to every connection
	EventPasscode  Event = "passcode"   // passcode entry started; Keypad names the keypad
	EventLogin     Event = "login"      // OK, UserID, FailedAttempts, or Code (and Error, the detail)
	EventChatStart Event = "chat-start" // Peer, Direction, Token, SafetyCode, PeerFingerprint, OldFingerprint, Warning; to the chat's owner
	EventChatEnd   Event = "chat-end"   // Code (and Error) say why when not a normal end; to the chat's owner
	// EventChatEnding asks the chat's owner to end the chat: the peer
	// closed its side (no Code; the data stream has ended before it) or
	// pi2pid must end it (logout, shutdown: Code and Error say why). The
	// owner writes nothing more and closes its writing side of the data
	// stream after what it accepted, which pi2pid sends on before it
	// closes towards the peer, so no text the owner accepted is lost.
	// EventChatEnd follows once both sides are closed.
	EventChatEnding Event = "chat-ending"
	EventLoggedOut  Event = "logged-out" // logout, shutdown (CodeStopping), or the server forgot us (CodeServerForgot)
)

// Direction says who started a chat.
type Direction string

// The directions of a chat.
const (
	Outgoing Direction = "outgoing" // we called
	Incoming Direction = "incoming" // we were called
)

// Request is one line from client to daemon.
type Request struct {
	ID      int    `json:"id"`
	Op      Op     `json:"op"`
	Version int    `json:"version,omitempty"`
	UserID  string `json:"userid,omitempty"`
	Key     Key    `json:"key,omitempty"`
	Token   string `json:"token,omitempty"` // OpStream
	// Once (OpWait): attach for one incoming chat only, detached when it
	// starts (pi2pictl wait, which exits after its chat).
	Once bool `json:"once,omitempty"`
}

// Reply is one line from daemon to client: a hello, a result or an event.
type Reply struct {
	Type    Type   `json:"type"`
	ID      int    `json:"id,omitempty"`
	Version int    `json:"version,omitempty"`
	Daemon  string `json:"daemon,omitempty"` // daemon build, in hello

	OK bool `json:"ok,omitempty"`
	// Error is the detail of a refusal in technical terms (a Go error's
	// text, a peer's reason), never a sentence: pi2pictl words the Code.
	Error string `json:"error,omitempty"`
	Code  Code   `json:"code,omitempty"`

	Event      Event     `json:"event,omitempty"`
	State      State     `json:"state,omitempty"`
	UserID     string    `json:"userid,omitempty"`
	Keypad     Keypad    `json:"keypad,omitempty"`
	Peer       string    `json:"peer,omitempty"`
	Direction  Direction `json:"direction,omitempty"`
	Token      string    `json:"token,omitempty"` // chat-start: the data stream's one-time token
	SafetyCode string    `json:"safety_code,omitempty"`
	// PeerFingerprint is the peer's key (chat-start, verify);
	// OldFingerprint, when set, is the different key last seen for that
	// peer: its key has changed.
	PeerFingerprint string `json:"peer_fingerprint,omitempty"`
	OldFingerprint  string `json:"old_fingerprint,omitempty"`
	// Warning, in chat-start and verify, is a problem with the record of
	// accepted keys (CodePeersUnreadable, CodePeersUnwritable) so that a
	// key change may go unnoticed; in a logout's result it is
	// CodeLogoutUnconfirmed. WarningDetail is its cause.
	Warning       Code    `json:"warning,omitempty"`
	WarningDetail string  `json:"warning_detail,omitempty"`
	Status        *Status `json:"status,omitempty"`
	// FailedAttempts, in a successful login event: failed login attempts
	// on the account since the previous login, as the server counted them.
	FailedAttempts int `json:"failed_attempts,omitempty"`
	// PeerEnded, in chat-ending, says that the peer closed its side: the
	// data stream's end was written before the event, so the client can
	// read the stream to its end before it ends its own side.
	PeerEnded bool `json:"peer_ended,omitempty"`
}

// Status describes the daemon, for `pi2pictl status`.
type Status struct {
	State             State  `json:"state"`
	UserID            string `json:"userid,omitempty"`
	Server            string `json:"server"`
	Security          string `json:"security"`
	Keypad            Keypad `json:"keypad"`
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
