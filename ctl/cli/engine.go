package cli

// The engine runs pi2pictl's transcript: its phases, and the one loop that
// takes input, daemon events and request results and steps the phase.

import (
	"errors"
	"os"
	"time"

	"github.com/chzyer/readline"
	"github.com/pi2pi/pi2pi/ctl/passcode"
	"github.com/pi2pi/pi2pi/ctl/peertext"
	"github.com/pi2pi/pi2pi/ctl/screen"
	"github.com/pi2pi/pi2pi/ctl/tty"
	"github.com/pi2pi/pi2pi/internal/control"
)

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
	phLogin      phase = iota // reading the user ID at "Login: "
	phLoggingIn               // login requested, waiting for passcode entry to start
	phPasscode                // the passcode is being entered
	phVerifying               // the passcode was sent, waiting for the daemon's verdict
	phDest                    // at "Enter destination user ID: ", attached for incoming chats
	phConnecting              // chat requested
	phWaiting                 // attached, waiting for an incoming chat (pi2pictl wait)
	phChat                    // chatting: lines typed are sent
	phEnding                  // end requested, waiting for the daemon to confirm
	phEnded                   // the chat of a one-shot command is over
)

// result is the answer to a request made in the background.
type result struct {
	op  control.Op
	rep control.Reply
	err error
}

type lineResult struct {
	line string
	err  error
}

// engine runs the transcript: it is the only goroutine that decides what
// happens; input, daemon events and request results all come to it.
type engine struct {
	flow   flow
	inv    *Invocation
	client *control.Client
	out    *screen.Screen
	in     lineSource
	stdin  *os.File // the terminal, when stdin is one
	rl     *readline.Instance
	mode   *tty.LineMode // readline's raw mode, which can keep echo off after a line
	comp   *completer
	recent *recentUsers

	phase        phase
	user         string         // who logs in
	peer         string         // who we chat with
	keypad       control.Keypad // from the status
	started      bool           // the current chat has started
	chatOpen     bool           // a chat was announced and its end not yet shown
	quitAfterEnd bool
	endOnStart   bool
	lines        peertext.Lines
	script       bool // chat text goes to a script: as it arrived, unlabelled
	midLine      bool // script: the text written so far did not end its line
	exit         error
	done         bool

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
	cancelC    <-chan time.Time

	results  chan result
	readReq  chan struct{}
	linesCh  chan lineResult
	reading  bool
	eof      bool // the input has ended
	keysBusy bool // the passcode reader has the terminal
	// keys is the passcode reader's input while keysBusy. Passcode entry
	// can end without a key from this terminal (pi2pid's entry timeout,
	// another client's logout, SIGINT): stopKeys then stops the reader,
	// which otherwise would wait for a key, and take it from the next
	// prompt. keysStopped is set once it was told to stop.
	keys        stopper
	keysStopped bool
	passDone    chan error
	flushC      <-chan time.Time
	// stream is the data stream of the chat in progress (stream.go), nil
	// when none is open. carry is an incomplete UTF-8 character at the end
	// of the last chunk; endWhy, once chat-end came, waits for the
	// stream's end so that "Connection ended" comes after all the text.
	stream *chatStream
	carry  []byte
	endWhy *string
	// pump sends stdin during a chat when stdin is no terminal and the
	// command is chat or wait (see pump.go); nil otherwise.
	pump *pump
	// Lines typed in a chat are written by sendLines, one at a time, so
	// that the engine goes on showing what arrives while a slow peer holds
	// a write up; no line is read meanwhile (backpressure). endPending:
	// the end waits for the write under way, so that it goes out after it.
	sendQ      chan writeItem
	sendDone   chan error
	sending    bool
	endPending bool
}

// start sets the first phase from pi2pid's status; false means the
// command is already over (e.exit says how).
func (e *engine) start(st *control.Status) bool {
	e.keypad = st.Keypad
	switch e.flow {
	case flowShell:
		if loggedIn(st) {
			e.user = st.UserID
			e.enterDest()
		} else {
			e.setPhase(phLogin)
		}
	case flowLogin:
		if loggedIn(st) && e.stillLoggedIn(st.UserID) {
			if e.user != "" && e.user != st.UserID {
				e.fail(otherUserMsg(st.UserID, e.user))
				return false
			}
			e.out.Println(alreadyLoggedInLine(st.UserID))
			return false
		}
		if e.user != "" {
			e.out.Println(promptLogin + e.user)
			e.login()
		} else {
			e.setPhase(phLogin)
		}
	case flowChat:
		e.chat()
	case flowWait:
		e.setPhase(phWaiting)
		e.call(control.OpWait, control.Request{Op: control.OpWait})
	}
	return true
}

func (e *engine) run() error {
	defer close(e.readReq)
	defer close(e.sendQ)
	st, err := e.status()
	if err != nil {
		return err
	}
	if !e.start(st) {
		return e.exit
	}
	events := e.client.Events()
	for !e.done {
		if e.wantLine() && !e.reading && !e.eof {
			e.echoBack()
			e.out.Prompt(e.prompt())
			e.out.Flush()
			e.reading = true
			e.readReq <- struct{}{}
		}
		select {
		case ev, ok := <-events:
			if !ok {
				e.fail(explain(e.client.Err(), e.inv.Socket))
				break
			}
			e.onEvent(ev)
		case r := <-e.results:
			e.drainEvents()
			e.onResult(r)
		case l := <-e.linesCh:
			e.reading = false
			e.onLine(l.line, l.err)
		case err := <-e.passDone:
			e.passcodeReaderDone(err)
		case <-e.inv.Env.Interrupts:
			e.onInterrupt()
		case <-e.flushC:
			e.flushPartial()
		case err := <-e.sendDone:
			e.lineSent(err)
		case listening := <-e.pumpEOF():
			e.onPumpEOF(listening)
		case b, ok := <-e.streamData():
			e.onStreamData(b, ok)
		case <-e.cancelC:
			e.cancelUnconfirmed()
		}
	}
	if e.stream != nil {
		e.stream.close()
	}
	e.releaseKeys()
	e.echoBack()
	e.out.Flush()
	return e.exit
}

func (e *engine) wantLine() bool {
	if e.keysBusy {
		return false
	}
	switch e.phase {
	case phLogin, phDest:
		return true
	case phChat:
		return e.pump == nil && !e.sending
	case phPasscode:
		return e.keypad == control.KeypadConsole && e.stdin == nil
	}
	return false
}

func (e *engine) setPhase(p phase) {
	old := e.prompt()
	e.phase = p
	if e.mode != nil {
		// A user ID read at "Login: " is followed by the passcode:
		// keep echo off from the moment the line ends.
		e.mode.HoldAfterLine(p == phLogin && e.keypad == "console")
	}
	if e.comp != nil {
		switch p {
		case phLogin:
			e.comp.mode.Store(completeLogin)
		case phDest:
			e.comp.mode.Store(completeDest)
		default:
			e.comp.mode.Store(completeNothing)
		}
	}
	if e.reading && e.prompt() != old {
		e.out.Prompt(e.prompt())
	}
}

func (e *engine) finish(err error) {
	e.exit = err
	e.done = true
}

// fail reports msg and ends with exit code 1.
func (e *engine) fail(msg string) {
	e.out.Errorln("pi2pictl: " + msg)
	e.finish(errReported)
}

// onLine handles a line typed (or read from the pipe).
func (e *engine) onLine(line string, err error) {
	if errors.Is(err, errInterrupted) {
		if e.phase == phChat {
			e.endChat(false)
		}
		return // at a prompt, readline has cleared the line
	}
	if err != nil {
		e.eof = true
		e.onEOF()
		return
	}
	switch e.phase {
	case phLogin:
		e.onLoginLine(line)
	case phPasscode:
		e.sendPasscodeLine(line)
	case phDest:
		e.onDestLine(line)
	case phChat:
		if e.stream != nil {
			e.sending = true
			e.sendQ <- writeItem{e.stream.s, line + "\n"}
		}
	}
}

func (e *engine) onEOF() {
	e.out.Prompt("") // end the prompt's line, as a shell does on CTRL-D
	switch e.phase {
	case phChat:
		e.quitAfterEnd = true
		e.endChat(false)
	case phPasscode:
		_ = e.client.Send(control.Request{Op: control.OpKey, Key: passcode.Cancel})
		e.fail("no passcode given: stdin ended")
	case phLogin:
		if e.flow == flowLogin {
			e.fail("no user ID given: stdin ended")
			return
		}
		e.finish(nil)
	default:
		e.finish(nil)
	}
}

func (e *engine) onEvent(ev control.Reply) {
	if e.done {
		return // a one-shot command has finished; the rest is not its business
	}
	switch ev.Event {
	case control.EventPasscode:
		e.startPasscode(ev.Keypad)
	case control.EventLogin:
		if ev.OK {
			e.loggedIn(ev.UserID, ev.FailedAttempts)
		} else {
			e.loginFailed(ev.Code, eventWords(ev))
		}
	case control.EventChatStart:
		if !e.started && (e.phase == phConnecting || e.phase == phDest || e.phase == phWaiting) {
			e.chatStarted(ev)
		}
	case control.EventChatEnding:
		// The peer closed its side, or pi2pid must end the chat: send
		// nothing more; what was sent still goes out first.
		if e.phase == phChat {
			e.endChat(false)
		}
	case control.EventChatEnd:
		if e.phase == phChat || e.phase == phEnding || e.phase == phConnecting {
			why := eventWords(ev)
			if e.stream == nil || e.stream.eof {
				e.chatEnded(why)
				return
			}
			// pi2pid has closed the stream: show the rest, then the end.
			e.endWhy = &why
			e.drainStream()
		}
	case control.EventState:
		if ev.State != control.StateReadingPasscode {
			e.stopKeys() // passcode entry ended; its login event follows
		}
	case control.EventLoggedOut:
		e.onLoggedOut(eventWords(ev))
	}
}

func (e *engine) onInterrupt() {
	switch e.phase {
	case phChat:
		e.endChat(false)
	case phConnecting:
		e.endOnStart = true
		if e.flow != flowShell {
			e.quitAfterEnd = true
		}
	case phLoggingIn, phPasscode, phVerifying:
		// A signal (kill -INT, SIGTERM) is no key: the passcode reader
		// would wait on, and take the next prompt's first key.
		e.stopKeys()
		if e.cancelling {
			return // asked already; pi2pid's login event ends the attempt
		}
		if e.keypad == control.KeypadConsole {
			_ = e.client.Send(control.Request{Op: control.OpKey, Key: passcode.Cancel})
		} else {
			_ = e.client.Send(control.Request{Op: control.OpLogout})
		}
		// pi2pid's login event ends the attempt: cancelled, or its
		// outcome when the passcode was already being checked.
		e.awaitCancel("")
	case phEnding:
		e.finish(errReported)
	default:
		e.finish(errReported)
	}
}
