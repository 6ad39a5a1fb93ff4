package cli

// The transcript's wording: prompts and the lines it prints.

import (
	"fmt"
	"time"
)

// The course handouts' transcript lines.
const (
	promptLogin      = "Login: "
	promptDest       = "Enter destination user ID: "
	linePasscode     = "Enter passcode on keypad."
	lineLoggedIn     = "Logged in."
	lineEstablished  = "Connection established, type your messages"
	lineReceivedFmt  = "Connection received from user %s, type your messages"
	lineEnded        = "Connection ended"
	passcodeHint     = "(type the digits here; nothing is shown. Enter or A validates, Backspace or B deletes, Esc or C cancels)"
	partialLineDelay = 300 * time.Millisecond
	// cancelConfirmTimeout bounds the wait for pi2pid's login event
	// after a cancel, should it never come.
	cancelConfirmTimeout = 15 * time.Second
)

func (e *engine) prompt() string {
	switch e.phase {
	case phLogin:
		return promptLogin
	case phDest:
		return promptDest
	}
	return ""
}

// failedAttemptsLine tells the user, after "Logged in.", how many login
// attempts on the account failed since the previous login (nothing for 0).
func failedAttemptsLine(n int) string {
	switch {
	case n <= 0:
		return ""
	case n == 1:
		return "There was 1 failed login attempt since your last login."
	}
	return fmt.Sprintf("There were %d failed login attempts since your last login.", n)
}
