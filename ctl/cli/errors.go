package cli

import (
	"context"
	"errors"
	"fmt"
	"net"

	"github.com/pi2pi/pi2pi/internal/control"
)

// usageError means the command line was wrong: exit code 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usageErrorf(format string, a ...any) error {
	return &usageError{fmt.Sprintf(format, a...)}
}

// errReported means the failure was already told to the person.
var errReported = errors.New("failed")

func exitCode(err error) int {
	var u *usageError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &u):
		return 2
	}
	return 1
}

// explain turns err into a sentence that says what happened and what to do.
func explain(err error, socket string) string {
	var ve *control.VersionError
	switch {
	case errors.Is(err, control.ErrDaemonNotRunning):
		return fmt.Sprintf("pi2pid is not running (nothing listens on %s): start it with: sudo systemctl start pi2pid.socket", socket)
	case errors.Is(err, control.ErrPermission):
		return fmt.Sprintf("permission denied on %s: add yourself to group pi2pi: sudo usermod -aG pi2pi $USER, then log in again", socket)
	case errors.As(err, &ve):
		return ve.Error()
	case isTimeout(err):
		return fmt.Sprintf("pi2pid did not answer on %s (%v): it may be failing to start; see: systemctl status pi2pid, and journalctl -u pi2pid -e", socket, err)
	case errors.Is(err, control.ErrClosed):
		return "pi2pid closed the connection (did it stop or restart? see journalctl -u pi2pid)"
	}
	return err.Error()
}

// isTimeout reports a deadline that ran out while talking to pi2pid.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout() || errors.Is(err, context.DeadlineExceeded)
}

// refusal says in words why the daemon refused a request about peer (the
// user ID asked for, or "").
func refusal(err error, peer string) string {
	var ce *control.Error
	if !errors.As(err, &ce) {
		return explain(err, "")
	}
	who := peer
	if who == "" {
		who = "that user"
	}
	switch ce.Code {
	case control.CodeNotFound:
		return who + " is not logged in."
	case control.CodeBusy:
		return who + " is busy in another chat; try again later."
	case control.CodeAway:
		return who + " is logged in but away (nobody is at that terminal); try again later."
	case control.CodeRefused:
		if ce.Message != "" {
			return "refused: " + ce.Message
		}
		return who + "'s terminal refused the connection."
	case control.CodeState:
		if ce.Message != "" {
			return ce.Message
		}
		return "not possible now: check pi2pictl status"
	case control.CodeNoConsole:
		return "pi2pid reads passcodes from its own keypad, not from this terminal: use the keypad"
	}
	if ce.Message != "" {
		return ce.Message
	}
	return "pi2pid refused: " + ce.Code
}

// loginRefusal says why a login failed.
func loginRefusal(code, msg string) string {
	switch code {
	case control.CodeRefused:
		return "Login refused: wrong user ID or passcode (or the account is locked after repeated failures; a lock ends by itself, try again later)."
	case control.CodeTimedOut:
		return "Login timed out: no key was pressed on the keypad for too long."
	case control.CodeCancelled:
		return "Login cancelled."
	}
	if msg != "" {
		return "Login failed: " + msg
	}
	return "Login failed."
}
