package cli

// Requests to pi2pid, made in the background, and their results.

import (
	"context"
	"errors"

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

// drainEvents handles the events that arrived before a result: the
// daemon sends them first, and they must be acted on first.
func (e *engine) drainEvents() {
	for {
		select {
		case ev, ok := <-e.client.Events():
			if !ok {
				return
			}
			e.onEvent(ev)
		default:
			return
		}
	}
}

func (e *engine) onResult(r result) {
	switch r.op {
	case control.OpLogin:
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
	case control.OpChat:
		if r.err != nil {
			if e.phase != phConnecting {
				return
			}
			e.out.Errorln(refusal(r.err, e.peer))
			if e.flow == flowShell {
				e.enterDest()
				return
			}
			e.finish(errReported)
			return
		}
		// A chat that started and already ended (its events came
		// first, see drainEvents) is not started again.
		if !e.started && e.phase == phConnecting {
			rep := r.rep
			if rep.Peer == "" {
				rep.Peer = e.peer
			}
			rep.Direction = control.Outgoing
			e.chatStarted(rep)
		}
	case control.OpWait:
		if r.err != nil && (e.phase == phWaiting || e.phase == phDest) {
			if e.flow == flowWait {
				e.out.Errorln(refusal(r.err, ""))
				e.finish(errReported)
				return
			}
			e.out.Errorln("incoming chats cannot reach this shell: " + refusal(r.err, ""))
		}
	}
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
func (e *engine) endChat(quit bool) {
	if quit {
		e.quitAfterEnd = true
	}
	if e.phase != phChat {
		return
	}
	e.setPhase(phEnding)
	if e.pump != nil {
		e.pump.stop() // the pump ends our side after what it read
		return
	}
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

// lineSent: the line being written has gone to pi2pid. A write that
// failed means the chat is over: its chat-end says why.
func (e *engine) lineSent(error) {
	e.sending = false
	if e.endPending {
		e.endPending = false
		if e.phase == phEnding {
			e.closeOurSide()
		}
	}
}

func (e *engine) pumpEOF() <-chan bool {
	if e.pump == nil {
		return nil
	}
	return e.pump.eof
}

// onPumpEOF: stdin ended. The pump ends the chat after what it sent,
// unless it only listens (see pump.listenOnEmpty).
func (e *engine) onPumpEOF(listening bool) {
	if !listening && e.phase == phChat {
		e.setPhase(phEnding)
	}
}
