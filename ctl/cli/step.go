package cli

// step: every input the engine receives, in one function that decides
// from the phase and the input what happens next. The run loop (engine.go)
// only turns what its channels bring into inputs; the helpers step calls
// (passcode.go, requests.go, chatview.go, stream.go) carry the effects out.

import (
	"github.com/pi2pi/pi2pi/ctl/passcode"
	"github.com/pi2pi/pi2pi/internal/control"
)

// inputKind names what happened.
type inputKind int

const (
	inStatus        inputKind = iota // pi2pid's status, as the engine starts
	inLine                           // a line was typed, or read from the pipe
	inLineInterrupt                  // CTRL-C at readline's prompt
	inEOF                            // the input ended (CTRL-D, the pipe's end)
	inSignal                         // SIGINT or SIGTERM
	inEventsClosed                   // the connection to pi2pid was lost
	evPasscode                       // pi2pid's keypad listens for the passcode
	evLogin                          // a login attempt ended (OK or not)
	evState                          // pi2pid's state changed
	evLoggedOut                      // pi2pid logged out
	evChatStart                      // a chat started (incoming or ours)
	evChatEnding                     // the peer closed its side: send no more
	evChatEnd                        // the chat is over
	evOther                          // an event this client does not act on
	resLogin                         // the answer to our login request
	resChat                          // the answer to our chat request
	resWait                          // the answer to our wait (attach) request
	inStreamData                     // text from the peer on the chat's stream
	inStreamEnd                      // the peer's side of the stream has ended
	inLineSent                       // a typed line was written to the stream
	inPumpEOF                        // the pump's stdin ended
	inKeysDone                       // the passcode reader, or the keys of a passcode line, are done
	inFlush                          // a partial line waited long enough
	inCancelTimeout                  // pi2pid did not confirm a cancel in time
	numInputKinds
)

var inputNames = [numInputKinds]string{"status", "line", "line-interrupt", "eof", "signal", "events-closed",
	"ev-passcode", "ev-login", "ev-state", "ev-logged-out", "ev-chat-start", "ev-chat-ending",
	"ev-chat-end", "ev-other", "res-login", "res-chat", "res-wait", "stream-data", "stream-end",
	"line-sent", "pump-eof", "keys-done", "flush", "cancel-timeout"}

func (k inputKind) String() string {
	if k >= 0 && k < numInputKinds {
		return inputNames[k]
	}
	return "input?"
}

// input is one thing that happened, with what came with it.
type input struct {
	kind      inputKind
	status    *control.Status // inStatus
	line      string          // inLine
	ev        control.Reply   // ev*
	res       result          // res*
	data      []byte          // inStreamData
	err       error           // inKeysDone; inPumpEOF: why reading stdin failed
	listening bool            // inPumpEOF: the pump only listens now
}

var eventKinds = map[control.Event]inputKind{
	control.EventPasscode:   evPasscode,
	control.EventLogin:      evLogin,
	control.EventState:      evState,
	control.EventLoggedOut:  evLoggedOut,
	control.EventChatStart:  evChatStart,
	control.EventChatEnding: evChatEnding,
	control.EventChatEnd:    evChatEnd,
}

func eventInput(ev control.Reply) input {
	k, ok := eventKinds[ev.Event]
	if !ok {
		k = evOther
	}
	return input{kind: k, ev: ev}
}

func resultInput(r result) input {
	k := resLogin
	switch r.op {
	case control.OpChat:
		k = resChat
	case control.OpWait:
		k = resWait
	}
	return input{kind: k, res: r}
}

// step takes one input. Once the command is over, nothing more is its
// business. Plumbing that is the same in every phase comes first; then
// each phase decides in a function of its own.
func (e *engine) step(in input) {
	if e.done {
		return
	}
	switch in.kind {
	case inEventsClosed:
		err := e.client.Err()
		if err == nil {
			err = control.ErrClosed
		}
		e.fail(explain(err, e.inv.Socket))
		return
	case inFlush:
		e.flushPartial()
		return
	case inStreamData, inStreamEnd:
		// Shown in phChat and phEnding only; the end may show the chat's end.
		if e.stream != nil {
			e.onStreamData(in.data, in.kind == inStreamData)
		}
		return
	case inLineSent:
		pending := e.endPending
		e.sending, e.endPending = false, false
		if pending && e.phase == phEnding {
			e.closeOurSide()
		}
		return
	case inKeysDone:
		in.err = e.keysReleased(in.err)
	case inPumpEOF:
		if in.err != nil {
			// Reading stdin failed: say so, whatever the phase; the
			// chat goes on as at stdin's end, and the exit code says it.
			e.out.Errorln("pi2pictl: cannot read your input (" + in.err.Error() + "): nothing more of it is sent.")
			e.inputFailed = true
		}
	}
	switch e.phase {
	case phStart:
		if in.kind == inStatus {
			e.begin(in.status)
		}
	case phLogin:
		e.stepLogin(in)
	case phLoggingIn, phPasscode, phVerifying:
		e.stepLoggingIn(in)
	case phDest, phWaiting:
		e.stepAttached(in)
	case phConnecting:
		e.stepConnecting(in)
	case phChat:
		e.stepChat(in)
	case phEnding:
		e.stepEnding(in)
	case phEnded:
		// finish came with it: step is not called again
	}
}

// stepOther is what the phases after login do alike on the input's end,
// a signal and pi2pid's logout.
func (e *engine) stepOther(in input) {
	switch in.kind {
	case inEOF:
		e.out.Prompt("") // end the prompt's line, as a shell does on CTRL-D
		e.finish(nil)
	case inSignal:
		e.finish(errReported)
	case evLoggedOut:
		e.loggedOut(eventWords(in.ev))
	}
}

// stepLogin: at "Login: ".
func (e *engine) stepLogin(in input) {
	switch in.kind {
	case inLine:
		e.onLoginLine(in.line)
	case inEOF:
		e.out.Prompt("")
		if e.flow == flowLogin {
			e.fail("no user ID given: stdin ended")
			return
		}
		e.finish(nil)
	case inSignal:
		e.finish(errReported)
	}
}

// stepLoggingIn: a login attempt, from the request to pi2pid's verdict.
func (e *engine) stepLoggingIn(in input) {
	switch in.kind {
	case inLine:
		if e.phase == phPasscode {
			e.sendPasscodeLine(in.line)
		}
	case inEOF:
		e.out.Prompt("")
		if e.phase != phPasscode {
			e.finish(nil)
			return
		}
		_ = e.client.Send(control.Request{Op: control.OpKey, Key: passcode.Cancel})
		e.fail("no passcode given: stdin ended")
	case inSignal:
		e.interruptLogin()
	case evPasscode:
		e.startPasscode(in.ev.Keypad)
	case evLogin:
		if in.ev.OK {
			e.loggedIn(in.ev.UserID, in.ev.FailedAttempts)
		} else {
			e.loginFailed(in.ev.Code, eventWords(in.ev))
		}
	case evState:
		if in.ev.State != control.StateReadingPasscode {
			e.stopKeys() // passcode entry ended; its login event follows
		}
	case evLoggedOut:
		e.stopKeys() // passcode entry ended; its login event follows
	case resLogin:
		e.onLoginResult(in.res)
	case inKeysDone:
		e.onPasscodeDone(in.err)
	case inCancelTimeout:
		e.cancelUnconfirmed()
	}
}

// stepAttached: at "Enter destination user ID: " (the shell) or waiting
// (pi2pictl wait); incoming chats come in either.
func (e *engine) stepAttached(in input) {
	switch in.kind {
	case inLine:
		if e.phase == phDest {
			e.onDestLine(in.line)
		}
	case evChatStart:
		if !e.started {
			e.chatStarted(in.ev)
		}
	case resWait:
		if in.res.err != nil {
			e.waitRefused(in.res.err)
		}
	default:
		e.stepOther(in)
	}
}

// stepConnecting: our chat request is under way.
func (e *engine) stepConnecting(in input) {
	switch in.kind {
	case inSignal, inLineInterrupt:
		// pi2pid abandons the set-up and refuses the request
		// (chat-cancelled); a chat that started meanwhile ends at once.
		e.endOnStart = true
		if e.flow != flowShell {
			e.quitAfterEnd = true
		}
		_ = e.client.Send(control.Request{Op: control.OpCancelChat})
	case evChatStart:
		if !e.started {
			e.chatStarted(in.ev)
		}
	case resChat:
		e.onChatResult(in.res)
	case evChatEnd:
		e.onChatEnd(in.ev)
	case evLoggedOut:
		// A logout abandoned our request (whose refusal may come after
		// this event): say so as the refusal would.
		msg := loggedOutMsg(eventWords(in.ev))
		switch in.ev.Code {
		case "":
			msg = refusal(&control.Error{Code: control.CodeLoggedOut, Peer: e.peer}, e.peer)
		case control.CodeStopping:
			msg = stoppedSetUpMsg(e.peer)
		}
		if e.flow != flowShell {
			e.fail(msg) // the refusal of the command asked for: no chat was open
			return
		}
		e.loggedOutSaying(msg)
	default:
		e.stepOther(in)
	}
}

// stepChat: chatting.
func (e *engine) stepChat(in input) {
	switch in.kind {
	case inLine:
		if e.stream != nil {
			e.sending = true
			e.sendQ <- writeItem{e.stream.s, in.line + "\n", e.whenSlow()}
		}
	case inLineInterrupt, inSignal:
		e.interrupted = true
		e.endChat()
	case evChatEnding:
		// The peer closed its side, or pi2pid must end the chat: read
		// nothing more; what was read, and what a pipe already holds,
		// still goes out.
		if in.ev.PeerEnded && e.showRest() {
			return // stdout failed: the chat was dropped
		}
		e.endChatAsked()
	case inEOF:
		e.out.Prompt("")
		e.quitAfterEnd = true
		e.endChat()
	case inPumpEOF:
		// The pump ends the chat after what it sent, unless it only
		// listens (see pump.listenOnEmpty).
		if !in.listening {
			e.setPhase(phEnding)
		}
	case evChatEnd:
		e.onChatEnd(in.ev)
	default:
		e.stepOther(in)
	}
}

// stepEnding: our side is ending; waiting for the chat's end.
func (e *engine) stepEnding(in input) {
	switch in.kind {
	case evChatEnd:
		e.onChatEnd(in.ev)
	case inSignal:
		if !e.interrupted {
			// The first CTRL-C of a chat that was ending already (stdin
			// ended, the peer ended): as in a chat, end politely, which
			// our side is doing; the next one leaves.
			e.interrupted = true
			return
		}
		e.leaveEnding()
	default:
		e.stepOther(in)
	}
}
