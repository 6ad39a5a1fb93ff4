package backend

import (
	"context"
	"errors"
	"time"

	"github.com/pi2pi/pi2pi/daemon/directory"
	"github.com/pi2pi/pi2pi/daemon/keypad"
	"github.com/pi2pi/pi2pi/daemon/terminal"
	"github.com/pi2pi/pi2pi/internal/control"
	"github.com/pi2pi/pi2pi/internal/credential"
	"github.com/pi2pi/pi2pi/internal/wire"
)

// startLogin begins passcode entry for userID and returns at once; the
// outcome comes as EventLogin.
//
// While logged in, it first asks the server (the keepalive's self-lookup)
// whether it still knows us: when it does, the answer is "already logged
// in"; when it has forgotten us (a timeout, a restart that lost its
// state), the terminal logs out as the keepalive does and the login goes
// ahead. Without userID it only confirms: the reply then says the
// terminal is logged out, and a new login is up to the client.
func (t *Terminal) startLogin(userID string) control.Reply {
	user, err := wire.NormalizeUserID(userID)
	s, cur, peer := t.m.State()
	if s == terminal.LoggedIn && (err == nil || userID == "") {
		if !t.confirmLogin(cur) {
			return fail(control.CodeState, "already logged in as %s: run pi2pictl logout first", cur)
		}
		if userID == "" {
			return control.Reply{State: terminal.LoggedOut.String()}
		}
		s, cur, peer = t.m.State()
	}
	if err != nil {
		return fail(control.CodeUsage, "bad user ID: %v", err)
	}
	if s != terminal.LoggedOut {
		if s == terminal.ReadingPasscode || s == terminal.Authenticating {
			return stateError(s, cur, peer)
		}
		return fail(control.CodeState, "already logged in as %s: run pi2pictl logout first", cur)
	}
	if err := t.m.Transition(terminal.LoggedOut, terminal.ReadingPasscode, terminal.Labels{UserID: user}); err != nil {
		return fail(control.CodeState, "cannot log in now: %v", err)
	}
	ctx, cancel := context.WithCancel(t.ctx)
	t.mu.Lock()
	t.loginCancel = cancel
	t.mu.Unlock()
	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		defer cancel()
		t.login(ctx, user)
	}()
	return control.Reply{UserID: user}
}

func (t *Terminal) login(ctx context.Context, user string) {
	started := func() {
		t.broadcast(control.Reply{Event: control.EventPasscode, Keypad: t.opt.Keypad.Kind(), UserID: user})
	}
	digits, err := t.opt.Keypad.ReadPasscode(ctx, started)
	t.mu.Lock()
	t.loginCancel = nil
	t.mu.Unlock()
	if err != nil {
		t.move(terminal.ReadingPasscode, terminal.LoggedOut, terminal.Labels{})
		code, msg := control.CodeCancelled, "passcode entry ended: "+err.Error()
		switch {
		case errors.Is(err, context.Canceled):
			msg = "passcode entry cancelled"
		case errors.Is(err, keypad.ErrTimeout):
			code = control.CodeTimedOut
		}
		t.broadcast(control.Reply{Event: control.EventLogin, UserID: user, Code: code, Error: msg})
		return
	}
	cred := credential.FromDigits(user, digits)
	clear(digits)
	t.move(terminal.ReadingPasscode, terminal.Authenticating, terminal.Labels{})
	actx, cancel := context.WithTimeout(t.ctx, t.opt.Timeout)
	failed := 0
	if lr, ok := t.opt.Directory.(directory.LoginReporter); ok {
		failed, err = lr.Login(actx, user, cred)
	} else {
		err = t.opt.Directory.Auth(actx, user, cred)
	}
	cancel()
	if err != nil {
		t.move(terminal.Authenticating, terminal.LoggedOut, terminal.Labels{})
		rep := dirError(err, "logging in")
		t.log.Warn("login failed", "USERID", user, "err", err)
		t.broadcast(control.Reply{Event: control.EventLogin, UserID: user, Code: rep.Code, Error: rep.Error})
		return
	}
	t.move(terminal.Authenticating, terminal.LoggedIn, terminal.Labels{})
	t.broadcast(control.Reply{Event: control.EventLogin, OK: true, UserID: user, FailedAttempts: failed})
	t.startKeepalive(user)
}

// press feeds a console key.
func (t *Terminal) press(key string) control.Reply {
	if err := t.opt.Keypad.Press(key); err != nil {
		if errors.Is(err, ErrNoConsole) {
			return fail(control.CodeNoConsole, "%v", err)
		}
		if s, _, _ := t.m.State(); s != terminal.ReadingPasscode {
			return fail(control.CodeState, "no passcode entry in progress: run pi2pictl login first")
		}
		return fail(control.CodeUsage, "%v", err)
	}
	return control.Reply{}
}

func (t *Terminal) logout() control.Reply {
	s, user, peer := t.m.State()
	switch s {
	case terminal.ReadingPasscode:
		t.mu.Lock()
		if t.loginCancel != nil {
			t.loginCancel()
		}
		t.mu.Unlock()
		return control.Reply{}
	case terminal.Chatting:
		t.mu.Lock()
		ch := t.chat
		t.mu.Unlock()
		if ch != nil {
			ch.askEnd(t.ctx, "", EndBudget)
		}
	case terminal.LoggedIn:
	default:
		return stateError(s, user, peer)
	}
	ctx, cancel := context.WithTimeout(t.ctx, t.opt.Timeout)
	if err := t.opt.Directory.Logout(ctx, user); err != nil {
		t.log.Warn("the server did not confirm the logout", "USERID", user, "err", err)
	}
	cancel()
	if err := t.m.Transition(terminal.LoggedIn, terminal.LoggedOut, terminal.Labels{}); err != nil {
		return fail(control.CodeState, "cannot log out now: %v", err)
	}
	t.stopKeepalive()
	t.broadcast(control.Reply{Event: control.EventLoggedOut, UserID: user})
	return control.Reply{}
}

// startKeepalive looks ourselves up every Keepalive interval while logged
// in: the request counts as activity on the server, and a NOTFOUND means
// the server forgot us. Between ticks nothing runs.
func (t *Terminal) startKeepalive(user string) {
	stop := make(chan struct{})
	t.mu.Lock()
	t.stopKeepOnce = sync1(func() { close(stop) })
	t.mu.Unlock()
	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		tick := time.NewTicker(t.opt.Keepalive)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.ctx.Done():
				return
			case <-tick.C:
			}
			if t.keepalive(user) {
				return
			}
		}
	}()
}

// keepalive runs one self-lookup and reports whether we are logged out.
func (t *Terminal) keepalive(user string) (loggedOut bool) {
	s, cur, _ := t.m.State()
	if cur != user || s == terminal.LoggedOut {
		return true
	}
	if s != terminal.LoggedIn && s != terminal.Chatting {
		return false // a chat is being set up; it does its own lookups
	}
	return t.checkWithServer(user, "keepalive")
}

// confirmLogin asks the server whether it still knows user, logged in
// here, before a new login is refused as "already logged in". It reports
// whether the terminal is logged out now.
func (t *Terminal) confirmLogin(user string) (loggedOut bool) {
	if t.checkWithServer(user, "login") {
		return true
	}
	// The keepalive may have logged us out during the lookup.
	s, _, _ := t.m.State()
	return s == terminal.LoggedOut
}

// checkWithServer looks user up as itself. When the server answers
// NOTFOUND it no longer knows the login: any chat ends, the terminal moves
// to logged-out, the keepalive stops and clients get EventLoggedOut. Any
// other failure leaves the terminal logged in. It reports whether it
// logged the terminal out.
func (t *Terminal) checkWithServer(user, why string) (loggedOut bool) {
	ctx, cancel := context.WithTimeout(t.ctx, t.opt.Timeout)
	_, err := t.opt.Directory.Lookup(ctx, user, user)
	cancel()
	if err == nil {
		return false
	}
	if !errors.Is(err, directory.ErrNotFound) {
		t.log.Warn(why+" lookup failed; staying logged in", "USERID", user, "err", err)
		return false
	}
	t.log.Warn("the server no longer knows we are logged in", "USERID", user, "check", why)
	t.mu.Lock()
	ch := t.chat
	t.mu.Unlock()
	if ch != nil {
		ch.askEnd(t.ctx, "the server logged you out", EndBudget)
	}
	if err := t.m.Transition(terminal.LoggedIn, terminal.LoggedOut, terminal.Labels{}); err != nil {
		return false // a new chat started meanwhile; try again next tick
	}
	t.stopKeepalive()
	t.broadcast(control.Reply{Event: control.EventLoggedOut, UserID: user,
		Error: "the server no longer knows you are logged in (it may have restarted or timed you out): log in again"})
	return true
}

func (t *Terminal) stopKeepalive() {
	t.mu.Lock()
	stop := t.stopKeepOnce
	t.stopKeepOnce = nil
	t.mu.Unlock()
	if stop != nil {
		stop()
	}
}

func sync1(f func()) func() {
	done := false
	return func() {
		if !done {
			done = true
			f()
		}
	}
}
