package control

import (
	"errors"
	"strings"
)

// The control API speaks in meanings: states, keypad kinds, key meanings
// and refusal codes are the typed values below, never sentences or the
// letters of one keypad. pi2pid decides what they mean for its hardware
// (which key is Enter is its --keypad-map's business); pi2pictl decides how
// to say them to a person (ctl/cli/errors.go holds every sentence).

// State is the terminal's state, as named in docs/statechart.md.
type State string

// The states of a terminal (daemon/terminal names each by one of these).
const (
	StateLoggedOut       State = "logged-out"
	StateReadingPasscode State = "reading-passcode"
	StateAuthenticating  State = "authenticating"
	StateLoggedIn        State = "logged-in" // and listening on the peer port
	StateLookingUp       State = "looking-up"
	StateConnecting      State = "connecting"
	StateAwaitingReply   State = "awaiting-reply"
	StateVerifying       State = "verifying" // an incoming CONNECTREQ, checked with pi2pid's own LOOKUPREQ
	StateChatting        State = "chatting"
	StateLoggingOut      State = "logging-out" // the machine took a logout (or shutdown); the server is being told
)

// Keypad is the kind of keypad pi2pid reads passcodes from.
type Keypad string

// The keypad kinds (pi2pid --keypad).
const (
	KeypadConsole  Keypad = "console"  // pi2pictl reads the keys and sends their meanings (OpKey)
	KeypadRPIO     Keypad = "rpio"     // a GPIO matrix through /dev/gpiomem (Pi 0-4)
	KeypadGPIOCdev Keypad = "gpiocdev" // a GPIO matrix through the kernel's character device
	KeypadNone     Keypad = "none"     // no passcode entry at all
)

// Key is what one console key press means: a digit "0"-"9", or KeyEnter,
// KeyBackspace or KeyCancel. pi2pictl never sends keypad letters: which
// letter means Enter on a hardware keypad is up to pi2pid's key map.
type Key string

// Key meanings other than digits.
const (
	KeyEnter     Key = "enter"     // validate the passcode
	KeyBackspace Key = "backspace" // remove the last digit
	KeyCancel    Key = "cancel"    // abandon the passcode entry
)

// Digit returns the key meaning of the digit d ('0'-'9').
func Digit(d byte) Key { return Key([]byte{d}) }

// IsDigit reports whether k is one of the digits "0"-"9".
func (k Key) IsDigit() bool { return len(k) == 1 && k[0] >= '0' && k[0] <= '9' }

// Valid reports whether k is a digit or one of the other meanings.
func (k Key) Valid() bool {
	return k.IsDigit() || k == KeyEnter || k == KeyBackspace || k == KeyCancel
}

// Code says why a request was refused, or why a login, a chat or a login
// session ended. Reply.UserID and Reply.Peer name whom it is about;
// Reply.Error adds the cause in technical terms where the code alone does
// not say it.
type Code string

// The codes.
const (
	CodeUsage   Code = "usage"   // malformed request, unknown op or key; Error says what
	CodeVersion Code = "version" // the protocol versions differ

	CodeBadUserID     Code = "bad-userid"     // not a user ID; Error says why
	CodeSelf          Code = "self"           // a chat with oneself
	CodeNotLoggedIn   Code = "not-logged-in"  // this terminal is logged out
	CodeLoggingIn     Code = "logging-in"     // a login of UserID is in progress here
	CodeLoggedIn      Code = "logged-in"      // this terminal is already logged in as UserID
	CodeChatting      Code = "chatting"       // this terminal is chatting with Peer
	CodeSettingUp     Code = "setting-up"     // this terminal is setting up a chat with Peer
	CodeLoggingOut    Code = "logging-out"    // a logout of UserID is in progress here
	CodeLoggedOut     Code = "logged-out"     // the chat set-up with Peer was abandoned: this terminal logged out
	CodeChatCancelled Code = "chat-cancelled" // the chat request for Peer was cancelled by its client (OpCancelChat)
	CodeNoChat        Code = "no-chat"        // a data stream whose token belongs to no chat (wrong, used, or the chat is over)

	CodeNoEntry      Code = "no-entry"          // a console key while no passcode entry runs
	CodeNoConsole    Code = "no-console"        // a console key for a daemon with a hardware keypad
	CodeNoKeypad     Code = "no-keypad"         // pi2pid runs with --keypad none
	CodeTooFast      Code = "too-fast"          // console keys arrive faster than they are read
	CodeCancelled    Code = "cancelled"         // passcode entry cancelled
	CodeTimedOut     Code = "timed-out"         // passcode entry abandoned: no key pressed for too long
	CodeEmpty        Code = "passcode-empty"    // Enter before any digit
	CodeTooLong      Code = "passcode-too-long" // more digits than a passcode has
	CodeRefused      Code = "refused"           // login refused: wrong user ID or passcode, or a locked account
	CodeServer       Code = "server"            // the server could not be reached or failed; Error says how
	CodeKeyChanged   Code = "key-changed"       // the server's pinned key changed; Error says which
	CodeServerForgot Code = "server-forgot"     // the server no longer knows this terminal's login

	CodeNotFound    Code = "notfound"     // Peer is not logged in
	CodeBusy        Code = "busy"         // Peer is in another chat
	CodeAway        Code = "away"         // nobody is at Peer's terminal to take the chat
	CodePeerRefused Code = "peer-refused" // Peer's terminal refused the chat; Error is its reason
	CodeOddReason   Code = "odd-reason"   // Peer's terminal refused the chat with a reason pi2pid does not pass on
	CodeNoKey       Code = "no-key"       // the server holds no key for Peer (a plain-mode terminal)
	CodeWrongKey    Code = "wrong-key"    // Peer's terminal showed a key other than the server's for Peer
	CodePlainMode   Code = "plain-mode"   // no keys to compare: this terminal runs in plain mode
	CodeUnreachable Code = "unreachable"  // Peer's terminal could not be reached or left; Error says how
	CodeBroken      Code = "broken"       // the chat's connection broke; Error says how

	// The end of a chat, the server, the record of peers' keys, start-up.
	CodeStopping        Code = "stopping"         // EventChatEnding, EventChatEnd: pi2pid is stopping
	CodeNoStream        Code = "no-stream"        // EventChatEnd: the owner did not open the chat's data stream in time
	CodePeerStalled     Code = "peer-stalled"     // Peer's terminal acknowledged nothing for too long while text waited
	CodePeerClosed      Code = "peer-closed"      // Peer had closed the chat when we sent more
	CodeCutOff          Code = "cut-off"          // EventChatEnd: the chat's end did not finish in time (a logout's or stop's budget, or its pi2pictl left) and the connection was reset; Error says what ended it
	CodeSendFailed      Code = "send-failed"      // writing to Peer failed; Error says how
	CodeServerBusy      Code = "server-busy"      // the server hung up during the TLS handshake: busy or restarting
	CodeNotTLS          Code = "not-tls"          // the server answered in clear text: it runs with --security plain
	CodeNoKeyBook       Code = "no-keybook"       // accept-key without a record of peers' keys (no state directory)
	CodePeersUnreadable Code = "peers-unreadable" // Warning: the record of accepted keys cannot be read; Error says why
	CodePeersUnwritable Code = "peers-unwritable" // Warning: a key met for the first time could not be recorded
	CodePeersDamaged    Code = "peers-damaged"    // Warning: the record of accepted keys has lines that do not parse; Error says which
	CodeConfig          Code = "config"           // pi2pid cannot start: its settings are wrong (in the hello; Error says which)

	// CodeLogoutUnconfirmed is the Warning of a logout's result: the
	// terminal logged out, but the server did not confirm it (no answer,
	// an error, a server without LOGOUTREQ); WarningDetail says how. The
	// server may keep the login until its session timeout.
	CodeLogoutUnconfirmed Code = "logout-unconfirmed"

	CodeInternal Code = "internal" // anything else; Error says what
)

// Codes lists every code, for the clients that word them.
var Codes = []Code{
	CodeUsage, CodeVersion, CodeBadUserID, CodeSelf, CodeNotLoggedIn, CodeLoggingIn, CodeLoggedIn,
	CodeChatting, CodeSettingUp, CodeLoggingOut, CodeLoggedOut, CodeChatCancelled, CodeNoChat, CodeNoEntry, CodeNoConsole, CodeNoKeypad, CodeTooFast,
	CodeCancelled, CodeTimedOut, CodeEmpty, CodeTooLong, CodeRefused, CodeServer, CodeKeyChanged,
	CodeServerForgot, CodeNotFound, CodeBusy, CodeAway, CodePeerRefused, CodeNoKey, CodeWrongKey,
	CodePlainMode, CodeUnreachable, CodeBroken, CodeOddReason, CodeStopping, CodeNoStream, CodePeerStalled,
	CodePeerClosed, CodeCutOff, CodeSendFailed, CodeServerBusy, CodeNotTLS, CodeNoKeyBook,
	CodePeersUnreadable, CodePeersUnwritable, CodePeersDamaged, CodeConfig, CodeInternal,
	CodeLogoutUnconfirmed,
}

// Error is a refusal with its code, as the daemon's core returns it and as
// Client.Call returns it. It holds no sentence for people: Error() is for
// logs and programs, and pi2pictl words the code.
type Error struct {
	Code   Code
	UserID string // this terminal's user, when the code is about it
	Peer   string // the other user, when the code is about one
	Detail string // the cause in technical terms, "" when the code says it all
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(string(e.Code))
	for _, s := range []string{e.UserID, e.Peer, e.Detail} {
		if s != "" {
			b.WriteString(": ")
			b.WriteString(s)
		}
	}
	return b.String()
}

// Refusal returns an *Error with code and, from cause (which may be nil),
// the detail.
func Refusal(code Code, peer string, cause error) *Error {
	e := &Error{Code: code, Peer: peer}
	if cause != nil {
		e.Detail = cause.Error()
	}
	return e
}

// CodeOf returns the code of an *Error in err's chain, or "".
func CodeOf(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// ErrorOf returns the refusal a result or event carries, nil when it
// carries none.
func ErrorOf(r Reply) *Error {
	if r.Code == "" {
		return nil
	}
	return &Error{Code: r.Code, UserID: r.UserID, Peer: r.Peer, Detail: r.Error}
}

// Refuse returns the result or event fields that carry err: its code, whom
// it is about and its detail. An error without a code is CodeInternal.
func Refuse(err error) Reply {
	var e *Error
	if !errors.As(err, &e) {
		return Reply{Code: CodeInternal, Error: err.Error()}
	}
	return Reply{Code: e.Code, UserID: e.UserID, Peer: e.Peer, Error: e.Detail}
}
