package cli

// The transcript's state: the flow, the phase and what the phases need to
// remember. step (step.go) is the only code that moves the phase on from
// an input; the table transitions lists where each phase may go.

import "github.com/pi2pi/pi2pi/internal/control"

// flow is what the engine was started to do.
type flow int

const (
	flowShell flow = iota // the interactive shell
	flowLogin             // pi2pictl login
	flowChat              // pi2pictl chat USERID
	flowWait              // pi2pictl wait
)

// phase is where the engine is in the transcript.
type phase int

const (
	phStart      phase = iota // waiting for pi2pid's status
	phLogin                   // reading the user ID at "Login: "
	phLoggingIn               // login requested, waiting for passcode entry to start
	phPasscode                // the passcode is being entered
	phVerifying               // the passcode was sent, waiting for the daemon's verdict
	phDest                    // at "Enter destination user ID: ", attached for incoming chats
	phConnecting              // chat requested
	phWaiting                 // attached, waiting for an incoming chat (pi2pictl wait)
	phChat                    // chatting: lines typed are sent
	phEnding                  // end requested, waiting for the daemon to confirm
	phEnded                   // the chat of a one-shot command is over
	numPhases
)

var phaseNames = [numPhases]string{"start", "login", "logging-in", "passcode", "verifying", "dest",
	"connecting", "waiting", "chat", "ending", "ended"}

func (p phase) String() string {
	if p >= 0 && p < numPhases {
		return phaseNames[p]
	}
	return "phase?"
}

// transcript is the client-side state that step decides on: no terminal,
// no connection, no channel.
type transcript struct {
	flow   flow
	phase  phase
	user   string         // who logs in
	peer   string         // who we chat with
	keypad control.Keypad // from the status, or the passcode event

	started      bool // the current chat has started
	chatOpen     bool // a chat was announced and its end not yet shown
	quitAfterEnd bool // the shell ends with the chat (stdin ended)
	endOnStart   bool // interrupted while connecting: end the chat once it starts

	// passcodeStarted is set once passcode entry has begun for the
	// current login attempt. The daemon may announce that start twice
	// (the login result may name the keypad, and the "passcode" event
	// comes before or after it, even after the keys we send); only the
	// first announcement counts.
	passcodeStarted bool

	// cancelling is set once pi2pictl asked pi2pid to cancel the current
	// login attempt (the Cancel key, or a logout for the gpio keypad).
	// pi2pid ends passcode entry on its own time and then sends its login
	// event, so the attempt ends with that event, not when the request
	// was sent: ending it sooner would let the event, arriving late, end
	// the next attempt (and pi2pid would refuse that attempt while it
	// still reads the old passcode). cancelWhy, when set, is shown
	// instead of "Login cancelled.".
	cancelling bool
	cancelWhy  string

	exit error // how the command ends
	done bool  // it has ended
}

// loggingIn reports whether a login attempt is under way.
func (t *transcript) loggingIn() bool {
	switch t.phase {
	case phLoggingIn, phPasscode, phVerifying:
		return true
	}
	return false
}

// transitions lists, for each phase, the phases one step may leave it in
// (itself included: most inputs change nothing). docs/design.md shows it;
// TestStepEveryPhaseAndInput checks step against it.
var transitions = [numPhases][]phase{
	// the flow and pi2pid's status choose the first phase (or the end:
	// `pi2pictl login` while logged in)
	phStart: {phStart, phLogin, phLoggingIn, phDest, phConnecting, phWaiting},
	// a user ID starts a login; /logout stays
	phLogin: {phLogin, phLoggingIn},
	// passcode entry starts; a cancel waits for pi2pid's verdict; the
	// login event (or a refused request) logs in or fails
	phLoggingIn: {phLoggingIn, phPasscode, phVerifying, phLogin, phDest},
	phPasscode:  {phPasscode, phVerifying, phLogin, phDest},
	phVerifying: {phVerifying, phLogin, phDest},
	// a user ID connects; an incoming chat starts (and ends at once when
	// an interrupt came while connecting before); logged out
	phDest: {phDest, phConnecting, phChat, phEnding, phLogin},
	// the chat starts (ending at once after an interrupt), is refused,
	// or ends before it started
	phConnecting: {phConnecting, phChat, phEnding, phEnded, phDest, phLogin},
	phWaiting:    {phWaiting, phChat, phEnding, phLogin},
	// our end (CTRL-C, CTRL-D, stdin's end, the peer's end), or the chat
	// ended under us
	phChat:   {phChat, phEnding, phEnded, phDest, phLogin},
	phEnding: {phEnding, phEnded, phDest, phLogin},
	phEnded:  {phEnded},
}
