package cli

// A login attempt: passcode entry on the keypad pi2pid names, and its outcome.

import (
	"errors"
	"fmt"
	"time"

	"github.com/pi2pi/pi2pi/ctl/passcode"
	"github.com/pi2pi/pi2pi/ctl/tty"
	"github.com/pi2pi/pi2pi/internal/control"
)

// stopper is something reading in the background that can be told to stop.
type stopper interface{ Stop() }

// stopKeys stops the passcode reader, if it runs: passcode entry ended, or
// is ending, without a key from this terminal. The reader restores the
// terminal and reports on e.passDone; the loop reads no line until then.
func (e *engine) stopKeys() {
	if e.keysBusy && e.keys != nil && !e.keysStopped {
		e.keysStopped = true
		e.keys.Stop()
	}
}

// keysReleased: the passcode reader (or the keys sent from a passcode
// line) is done, and the terminal is back to line mode. It returns err as
// the login attempt sees it.
func (e *engine) keysReleased(err error) error {
	stopped := e.keysStopped
	e.keysBusy, e.keys, e.keysStopped = false, nil, false
	if stopped && err != nil {
		// Whatever it met on its way out (a key refused because
		// passcode entry had ended), the engine stopped it.
		err = tty.ErrStopped
	}
	return err
}

// releaseKeys stops the passcode reader as the engine ends and waits for
// it to restore the terminal's mode, which pi2pictl must not leave
// without echo.
func (e *engine) releaseKeys() {
	if !e.keysBusy {
		return
	}
	e.stopKeys()
	select {
	case err := <-e.passDone:
		e.keysReleased(err)
	case <-time.After(callTimeout + time.Second):
		// A key press still waits for pi2pid; the terminal is left as is.
	}
}

// startPasscode begins passcode entry on the keypad the daemon named. The
// daemon announces that its keypad listens with the "passcode" event, and
// may also name the keypad in the login result; startPasscode acts once
// per login attempt, on whichever comes first: a second announcement,
// even one arriving after the passcode was sent, changes nothing.
//
// The "reading-passcode" state event is no such announcement: pi2pid
// sends it before its keypad listens, and console keys sent then are
// refused.
func (e *engine) startPasscode(keypad control.Keypad) {
	if e.cancelling && !e.passcodeStarted {
		// Cancelled before pi2pid's keypad listened, which refused the
		// Cancel key: press it again now that the keypad takes it.
		e.passcodeStarted = true
		if keypad == "" {
			keypad = e.keypad
		}
		if keypad == control.KeypadConsole {
			_ = e.client.Send(control.Request{Op: control.OpKey, Key: passcode.Cancel})
		}
		return
	}
	if e.phase != phLoggingIn || e.passcodeStarted {
		return
	}
	e.passcodeStarted = true
	if keypad != "" {
		e.keypad = keypad
	}
	e.setPhase(phPasscode)
	// Echo off before the prompt shows: a key typed the moment it
	// appears must not be echoed.
	e.quiet()
	e.out.Println(linePasscode)
	if e.keypad != control.KeypadConsole || e.stdin == nil {
		return // gpio: the daemon reads the keypad; pipe: wantLine reads a line
	}
	e.out.Errorln(passcodeHint)
	e.out.Flush()
	fd := int(e.stdin.Fd())
	keys := tty.NewStoppableReader(e.stdin)
	e.keysBusy, e.keys, e.keysStopped = true, keys, false
	go func() {
		st, err := tty.KeysNoEcho(fd)
		if err != nil {
			e.passDone <- fmt.Errorf("switching the terminal to passcode mode: %w", err)
			return
		}
		err = passcode.ReadKeys(keys, func() bool { return tty.Readable(fd, 30*time.Millisecond) }, e.pressKey)
		// Restore before reporting: readline takes the terminal next.
		st.Restore()
		e.passDone <- err
	}()
}

func (e *engine) pressKey(key control.Key) error {
	ctx, cancel := callCtx()
	defer cancel()
	_, err := e.client.Call(ctx, control.Request{Op: control.OpKey, Key: key})
	return err
}

// sendPasscodeLine sends a passcode read from a pipe as key presses.
func (e *engine) sendPasscodeLine(line string) {
	keys, err := passcode.FromLine(line)
	if err != nil {
		if e.pressKey(passcode.Cancel) == nil {
			e.awaitCancel(err.Error())
			return
		}
		e.onPasscodeDone(err)
		return
	}
	e.setPhase(phVerifying) // read no more lines; wait for the outcome
	go func() {
		for _, k := range keys {
			if err := e.pressKey(k); err != nil {
				e.passDone <- err
				return
			}
		}
		e.passDone <- nil
	}()
}

func (e *engine) onPasscodeDone(err error) {
	if err == nil || errors.Is(err, tty.ErrStopped) {
		// Enter was pressed, or passcode entry ended (or is ending)
		// without it: either way the outcome arrives as a login event.
		if e.phase == phPasscode {
			e.setPhase(phVerifying)
		}
		return
	}
	switch {
	case errors.Is(err, passcode.ErrCancelled):
		// pi2pid took the Cancel key; its login event ends the attempt.
		e.awaitCancel("")
	case control.CodeOf(err) == control.CodeCancelled:
		e.loginFailed(control.CodeCancelled, "")
	case control.CodeOf(err) != "":
		e.loginFailed("", refusal(err, ""))
	default:
		e.loginFailed("", err.Error())
	}
}

func (e *engine) onLoginLine(line string) {
	user, err := e.userIDLine(line, "")
	if err != nil && e.flow == flowLogin && e.stdin == nil {
		e.finish(usageErrorf("login: %v", err))
	}
	if user == "" {
		return
	}
	e.recent.add(user)
	e.user = user
	e.login()
}

func (e *engine) login() {
	e.quiet()
	e.passcodeStarted = false
	e.endCancel()
	e.setPhase(phLoggingIn)
	e.call(control.OpLogin, control.Request{Op: control.OpLogin, UserID: e.user})
}

// interruptLogin: a signal during a login attempt asks pi2pid to cancel it.
func (e *engine) interruptLogin() {
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
}

// awaitCancel waits for pi2pid's login event after pi2pictl asked it to
// cancel the login attempt (see engine.cancelling); why, when set, is
// what the person is told then instead of "Login cancelled.".
func (e *engine) awaitCancel(why string) {
	if e.cancelling {
		return
	}
	e.cancelling, e.cancelWhy = true, why
	e.cancelC = time.After(cancelConfirmTimeout)
	e.setPhase(phVerifying)
}

// cancelConfirmTimeout bounds the wait for pi2pid's login event after a
// cancel, should it never come.
const cancelConfirmTimeout = 15 * time.Second

// cancelUnconfirmed ends a login attempt whose cancel pi2pid did not
// confirm within cancelConfirmTimeout.
func (e *engine) cancelUnconfirmed() {
	e.cancelC = nil
	e.out.Errorln("pi2pid did not confirm that passcode entry was cancelled (see `pi2pictl status`).")
	e.loginFailed(control.CodeCancelled, "")
}

// endCancel forgets a cancel asked for: the attempt has ended.
func (e *engine) endCancel() {
	e.cancelling, e.cancelWhy, e.cancelC = false, "", nil
}

func (e *engine) loginFailed(code control.Code, msg string) {
	e.stopKeys()
	if e.cancelling && e.cancelWhy != "" && code == control.CodeCancelled {
		code, msg = "", e.cancelWhy
	}
	e.endCancel()
	e.out.Errorln(loginRefusal(code, msg))
	if e.flow == flowLogin {
		e.finish(errReported)
		return
	}
	e.setPhase(phLogin)
}

func (e *engine) loggedIn(user string, failedAttempts int) {
	e.stopKeys()
	e.endCancel()
	if user != "" {
		e.user = user
	}
	e.out.Println(lineLoggedIn)
	if line := failedAttemptsLine(failedAttempts); line != "" {
		e.out.Println(line)
	}
	if e.flow == flowLogin {
		e.finish(nil)
		return
	}
	e.enterDest()
}
