package cli

// Requests to pi2pid, made in the background, and their results.

import (
	"context"
	"errors"

	"github.com/pi2pi/pi2pi/ctl/peertext"
	"github.com/pi2pi/pi2pi/internal/control"
)

// stillLoggedIn asks pi2pid to confirm its login of user with the server
// (a login request without a user ID). When the server had forgotten it,
// pi2pid is logged out now and stillLoggedIn says so on stderr. Any other
// answer, a pi2pid too old to check included, counts as logged in.
func (e *engine) stillLoggedIn(user string) bool {
	ctx, cancel := callCtx()
	defer cancel()
	rep, err := e.client.Call(ctx, control.Request{Op: control.OpLogin})
	if err != nil || rep.State != control.StateLoggedOut {
		return true
	}
	e.out.Errorln(reloginMsg(user))
	return false
}

func (e *engine) status() (*control.Status, error) {
	ctx, cancel := callCtx()
	defer cancel()
	rep, err := e.client.Call(ctx, control.Request{Op: control.OpStatus})
	if err != nil {
		return nil, err
	}
	if rep.Status == nil {
		return nil, errors.New("pi2pid sent no status")
	}
	return rep.Status, nil
}

// call makes a request in the background; its result comes to the loop.
func (e *engine) call(op control.Op, req control.Request) {
	go func() {
		rep, err := e.client.Call(context.Background(), req)
		select {
		case e.results <- result{op, rep, err}:
		case <-e.client.Done():
		}
	}()
}

// pendingEvents takes the events that have arrived: before a result,
// since the daemon sends them first, and they must be acted on first.
func (e *engine) pendingEvents() []input {
	var ins []input
	for {
		select {
		case ev, ok := <-e.client.Events():
			if !ok {
				return ins
			}
			ins = append(ins, eventInput(ev))
		default:
			return ins
		}
	}
}

// begin sets the first phase from pi2pid's status.
func (e *engine) begin(st *control.Status) {
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
				return
			}
			e.out.Println(alreadyLoggedInLine(st.UserID))
			e.finish(nil)
			return
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
		// A terminal that is not logged in takes no chat: waiting would
		// wait for nothing, silently (README: wait refuses at once).
		if !loggedIn(st) {
			e.fail(waitLoggedOutMsg)
			return
		}
		// One chat, then pi2pictl exits: once, so that pi2pid hands no
		// second caller to it on its way out.
		e.setPhase(phWaiting)
		e.call(control.OpWait, control.Request{Op: control.OpWait, Once: true})
	}
}

// onLoginResult: pi2pid answered our login request.
func (e *engine) onLoginResult(r result) {
	if r.err != nil {
		if control.CodeOf(r.err) == control.CodeLoggedIn && e.flow == flowShell {
			// Someone logged in meanwhile; check.
			if st, err := e.status(); err == nil && loggedIn(st) {
				e.loggedIn(st.UserID, 0)
				return
			}
		}
		e.loginFailed("", refusal(r.err, ""))
		return
	}
	if r.rep.Keypad != "" {
		e.startPasscode(r.rep.Keypad)
	}
}

// onChatResult: pi2pid answered our chat request.
func (e *engine) onChatResult(r result) {
	if r.err != nil {
		if control.CodeOf(r.err) == control.CodeChatCancelled {
			e.endOnStart = false // no chat of this request will start
		}
		msg := refusal(r.err, e.peer)
		if control.CodeOf(r.err) == control.CodeStopping {
			msg = stoppedSetUpMsg(e.peer)
		}
		if e.flow == flowShell {
			e.out.Errorln(msg)
			e.enterDest()
			return
		}
		e.fail(msg)
		return
	}
	// A chat that started and already ended (its events came
	// first, see engine.next) is not started again.
	if !e.started {
		rep := r.rep
		if rep.Peer == "" {
			rep.Peer = e.peer
		}
		rep.Direction = control.Outgoing
		e.chatStarted(rep)
	}
}

// waitRefused: pi2pid refused to attach us for incoming chats.
func (e *engine) waitRefused(err error) {
	if e.flow == flowWait {
		e.fail(refusal(err, ""))
		return
	}
	e.out.Errorln("incoming chats cannot reach this shell: " + refusal(err, ""))
}

// enterDest shows the destination prompt and attaches for incoming chats.
func (e *engine) enterDest() {
	e.setPhase(phDest)
	e.call(control.OpWait, control.Request{Op: control.OpWait})
}

func (e *engine) chat() {
	e.recent.add(e.peer)
	e.started = false
	e.endOnStart = false
	e.setPhase(phConnecting)
	e.call(control.OpChat, control.Request{Op: control.OpChat, UserID: e.peer})
}

// endChat ends our side of the chat once everything typed is sent: the
// stream's CloseWrite. The chat is over once the peer has ended too.
func (e *engine) endChat() {
	e.setPhase(phEnding)
	if e.pump != nil {
		e.pump.stop() // the pump ends our side after what it read
		return
	}
	e.endTyped()
}

// endChatAsked ends our side because pi2pid asked (chat-ending: the peer
// has ended, or a logout or shutdown): as endChat, but a pump first sends
// what its stdin already holds (pump.sendReady).
func (e *engine) endChatAsked() {
	if e.pump != nil {
		e.setPhase(phEnding)
		e.pump.stopAfterReady()
		return
	}
	e.endChat()
}

// endTyped ends our side after the typed line being written, if any.
func (e *engine) endTyped() {
	if e.sending {
		e.endPending = true // after the line being written
		return
	}
	e.closeOurSide()
}

// closeOurSide ends our side of the stream: pi2pid sends what was written
// before it first. The end comes as EventChatEnd once the peer closed too,
// however long a slow peer takes to read what was sent.
func (e *engine) closeOurSide() {
	if e.stream != nil {
		_ = e.stream.s.CloseWrite()
	}
}

// leaveEnding: a second interrupt while our side is ending leaves at once,
// without waiting for the peer to take what was sent (README). The chat
// is over for us, so "Connection ended" closes it on stdout as any other
// end does (after what was received so far); stderr says what may be
// missing, and the exit code is 1.
func (e *engine) leaveEnding() {
	e.flushPartial()
	if e.chatOpen {
		e.out.Println(lineEnded)
		e.chatOpen = false
	}
	e.setPhase(phEnded)
	e.fail(leftEndingMsg(e.peer))
}

// leftEndingMsg is what a second interrupt while a chat is ending says.
func leftEndingMsg(peer string) string {
	who := peertext.Clean(peer)
	return "you left without waiting for " + who + " to take everything you sent: the end of it may not have arrived; " +
		"to be sure it does, press CTRL-C once and wait for `Connection ended`."
}

func (e *engine) pumpEOF() <-chan bool {
	if e.pump == nil {
		return nil
	}
	return e.pump.eof
}
