package backend

import (
	"context"
	"errors"
	"fmt"
	"sync"
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
func (t *Terminal) startLogin(userID string) (control.Reply, error) {
	user, err := wire.NormalizeUserID(userID)
	if s, cur, _ := t.m.State(); s == terminal.LoggedIn && (err == nil || userID == "") {
		if !t.confirmLogin(cur) {
			return control.Reply{}, &control.Error{Code: control.CodeLoggedIn, UserID: cur}
		}
		if userID == "" {
			return control.Reply{State: control.StateLoggedOut}, nil
		}
	}
	if err != nil {
		return control.Reply{}, control.Refusal(control.CodeBadUserID, "", err)
	}
	ctx, cancel := context.WithCancel(t.ctx)
	if _, err := t.step(input{Event: terminal.EvLogin, User: user, Cancel: cancel}); err != nil {
		var se *terminal.ErrState
		if errors.As(err, &se) && se.State != terminal.ReadingPasscode && se.State != terminal.Authenticating && se.State != terminal.LoggingOut {
			// logged in, whatever it is doing
			return control.Reply{}, &control.Error{Code: control.CodeLoggedIn, UserID: se.User}
		}
		return control.Reply{}, refusal(err)
	}
	if !t.track(func() {
		defer cancel()
		t.login(ctx, user)
	}) {
		// pi2pid is stopping: the entry ends at once, as cancelled.
		cancel()
		t.login(ctx, user)
	}
	return control.Reply{UserID: user}, nil
}

// login reads the passcode and asks the server; each outcome is the
// machine's next event.
func (t *Terminal) login(ctx context.Context, user string) {
	started := func() {
		t.broadcast(control.Reply{Event: control.EventPasscode, Keypad: t.opt.Keypad.Kind(), UserID: user})
	}
	digits, err := t.opt.Keypad.ReadPasscode(ctx, started)
	if err != nil {
		t.outcome(input{Event: terminal.EvKeysFailed})
		t.loginFailed(user, passcodeError(err))
		return
	}
	cred := credential.FromDigits(user, digits)
	clear(digits)
	t.outcome(input{Event: terminal.EvPasscode})
	actx, cancel := context.WithTimeout(t.ctx, t.opt.Timeout)
	failed := 0
	if lr, ok := t.opt.Directory.(directory.LoginReporter); ok {
		failed, err = lr.Login(actx, user, cred)
	} else {
		err = t.opt.Directory.Auth(actx, user, cred)
	}
	cancel()
	if err != nil {
		t.outcome(input{Event: terminal.EvAuthFailed})
		t.log.Warn("login failed", "USERID", user, "err", err)
		t.loginFailed(user, dirError(err, ""))
		return
	}
	// The machine keeps the keepalive's stop from the step that enters
	// logged-in and calls it in the step that leaves.
	stop := make(chan struct{})
	var once sync.Once
	if !t.outcome(input{Event: terminal.EvGranted, Keepalive: func() { once.Do(func() { close(stop) }) }}) {
		return
	}
	t.broadcast(control.Reply{Event: control.EventLogin, OK: true, UserID: user, FailedAttempts: failed})
	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		t.runKeepalive(user, stop)
	}()
}

// loginFailed tells the control clients that the login of user ended
// with err.
func (t *Terminal) loginFailed(user string, err error) {
	ev := control.Refuse(err)
	ev.Event, ev.UserID = control.EventLogin, user
	t.broadcast(ev)
}

// passcodeError is the refusal for a passcode entry that ended with err.
func passcodeError(err error) error {
	code := control.CodeInternal
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, keypad.ErrCancelled):
		return control.Refusal(control.CodeCancelled, "", nil)
	case errors.Is(err, keypad.ErrTimeout):
		return control.Refusal(control.CodeTimedOut, "", nil)
	case errors.Is(err, keypad.ErrEmpty):
		return control.Refusal(control.CodeEmpty, "", nil)
	case errors.Is(err, keypad.ErrTooLong):
		return control.Refusal(control.CodeTooLong, "", nil)
	case errors.Is(err, keypad.ErrNoKeypad):
		code = control.CodeNoKeypad
	}
	return control.Refusal(code, "", err)
}

// press feeds a console key meaning.
func (t *Terminal) press(key control.Key) error {
	err := t.opt.Keypad.Press(key)
	switch {
	case err == nil:
		return nil
	case !key.Valid():
		return control.Refusal(control.CodeUsage, "", fmt.Errorf("%q is not a key meaning: send a digit, enter, backspace or cancel", key))
	case errors.Is(err, ErrNoConsole):
		return control.Refusal(control.CodeNoConsole, "", nil)
	case errors.Is(err, keypad.ErrBusy):
		return control.Refusal(control.CodeTooFast, "", nil)
	}
	if s, _, _ := t.m.State(); s != terminal.ReadingPasscode || errors.Is(err, keypad.ErrNotStarted) {
		return control.Refusal(control.CodeNoEntry, "", nil)
	}
	return control.Refusal(control.CodeInternal, "", err)
}

// logout takes the logout in the machine first (logged-in or a chat
// set-up -> logging-out; a set-up is abandoned and its request refused
// with CodeLoggedOut), then tells the server: no chat can start between
// the two, and pi2pid never says logged-in after the server was told.
// When the server does not confirm the logout, the terminal is logged out
// all the same (the user asked), and the result says so: Warning
// CodeLogoutUnconfirmed, with the cause in WarningDetail.
func (t *Terminal) logout() (control.Reply, error) {
	eff, err := t.takeLogout(terminal.EvLogout, t.ctx, EndBudget, nil)
	if err != nil {
		return control.Reply{}, refusal(err)
	}
	if eff.From == terminal.ReadingPasscode {
		return control.Reply{}, nil // the entry is cancelled; the login ends as cancelled
	}
	if err := t.signOff(t.ctx, eff.User, t.opt.Timeout, ""); err != nil {
		return control.Reply{Warning: control.CodeLogoutUnconfirmed, WarningDetail: err.Error()}, nil
	}
	return control.Reply{}, nil
}

// takeLogout posts ev (EvLogout, EvShutdown) until the machine takes it: a
// chat in progress is ended first (with why), then ev is posted again. It
// returns the step that moved to logging-out, or one that moved nothing
// (reading-passcode: the entry is cancelled; logged out or logging in:
// nothing to do for a shutdown).
func (t *Terminal) takeLogout(ev terminal.Event, ctx context.Context, budget time.Duration, why error) (effects, error) {
	for range 3 { // a new incoming chat may begin right after one ended
		eff, err := t.step(input{Event: ev})
		if err != nil || eff.EndChat == nil {
			return eff, err
		}
		eff.EndChat.askEnd(ctx, why, budget)
	}
	s, user, peer := t.m.State()
	return effects{}, &terminal.ErrState{Event: ev, State: s, User: user, Peer: peer}
}

// signOff tells the server that user logged out and moves the machine
// from logging-out to logged-out; clients get EventLoggedOut. The move is
// made whatever the server says: EvSignedOff when it confirmed (LOGOUTREPLY
// SUCCESS or NOTFOUND), EvNotSignedOff, logged as a warning, when it
// did not answer or failed; signOff then returns why. Such a server keeps
// the login until its session timeout (pi2pi-server: --session-timeout,
// 15 minutes without a request by default). why is the code of the
// EventLoggedOut: CodeStopping at shutdown, "" for a logout asked for.
func (t *Terminal) signOff(ctx context.Context, user string, timeout time.Duration, why control.Code) error {
	lctx, cancel := context.WithTimeout(ctx, timeout)
	err := t.opt.Directory.Logout(lctx, user)
	cancel()
	ev := terminal.EvSignedOff
	if err != nil {
		ev = terminal.EvNotSignedOff
		t.log.Warn("logged out here, but the server did not confirm the logout: "+
			"it may keep the login until its session timeout", "USERID", user, "err", err)
	}
	if t.outcome(input{Event: ev}) {
		t.broadcast(control.Reply{Event: control.EventLoggedOut, UserID: user, Code: why})
	}
	return err
}

// runKeepalive looks ourselves up every Keepalive interval while logged
// in: the request counts as activity on the server, and a NOTFOUND means
// the server forgot us. Between ticks nothing runs.
func (t *Terminal) runKeepalive(user string, stop <-chan struct{}) {
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
// to logged-out (which stops the keepalive) and clients get
// EventLoggedOut. Any other failure leaves the terminal logged in. It
// reports whether it logged the terminal out.
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
	forgot := input{Event: terminal.EvServerForgot, User: user}
	eff, _ := t.step(forgot)
	if ch := eff.EndChat; ch != nil {
		ch.askEnd(t.ctx, control.Refusal(control.CodeServerForgot, "", nil), EndBudget)
		eff, _ = t.step(forgot)
	}
	if !eff.Moved {
		return false // a new chat is being set up; try again next tick
	}
	t.broadcast(control.Reply{Event: control.EventLoggedOut, UserID: user, Code: control.CodeServerForgot})
	return true
}
