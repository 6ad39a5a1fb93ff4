package cli

// The transcript's wording: prompts and the lines it prints.

import (
	"fmt"

	"github.com/pi2pi/pi2pi/ctl/peertext"
)

// The course handouts' transcript lines.
const (
	promptLogin     = "Login: "
	promptDest      = "Enter destination user ID: "
	linePasscode    = "Enter passcode on keypad."
	lineLoggedIn    = "Logged in."
	lineEstablished = "Connection established, type your messages"
	lineReceivedFmt = "Connection received from user %s, type your messages"
	lineEnded       = "Connection ended"
	passcodeHint    = "(type the digits here; nothing is shown. Enter or A validates, Backspace or B deletes, Esc or C cancels)"
	// whyEndedUnstarted is said of a chat that ended before it started.
	whyEndedUnstarted = "the chat ended before it started."
)

// alreadyLoggedInLine is what `pi2pictl login` says when pi2pid is
// logged in already.
func alreadyLoggedInLine(user string) string {
	return "Already logged in as " + user + "."
}

// otherUserMsg refuses `pi2pictl login wanted` while pi2pid is logged in
// as someone else.
func otherUserMsg(current, wanted string) string {
	return "pi2pid is logged in as " + peertext.Clean(current) + "; run `pi2pictl logout` first to log in as " + wanted + "."
}

// waitLoggedOutMsg refuses `pi2pictl wait` on a terminal that is not
// logged in (or only logging in): no chat can reach it.
const waitLoggedOutMsg = "not logged in, so no chat can reach this terminal: log in first with `pi2pictl login`, then run `pi2pictl wait`."

// reloginMsg says why a login pi2pid reported is being done again.
func reloginMsg(user string) string {
	return "pi2pid was logged in as " + peertext.Clean(user) + ", but the server no longer knows that login (it may have restarted or timed you out): logging in again."
}

// safetyCodeLine shows a chat's safety code, to compare by voice.
func safetyCodeLine(code, peer string) string {
	return fmt.Sprintf("Safety code: %s (compare it with %s by voice)", peertext.Clean(code), peertext.Clean(peer))
}

// loggedOutMsg says that pi2pid logged out, and why when it said.
func loggedOutMsg(why string) string {
	if why == "" {
		return "Logged out."
	}
	return sentence("Logged out: " + peertext.Clean(why))
}

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
