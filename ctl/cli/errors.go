package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/pi2pi/pi2pi/ctl/peertext"
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

// sentence ends s with a period unless it ends a sentence already: every
// message pi2pictl writes for people is one or more sentences (README,
// "Messages"). Commands to type are quoted with backticks, so that the
// period is not taken for part of one.
func sentence(s string) string {
	s = strings.TrimRight(s, " ")
	if s == "" || strings.HasSuffix(s, ".") || strings.HasSuffix(s, "?") || strings.HasSuffix(s, "!") {
		return s
	}
	return s + "."
}

// explain turns err into a sentence that says what happened and what to do.
// Every path that shows an error to a person ends here or in refusal, so a
// refusal code of pi2pid is always worded by describe, never printed raw.
func explain(err error, socket string) string { return sentence(explainWords(err, socket)) }

func explainWords(err error, socket string) string {
	var ve *control.VersionError
	var ce *control.Error
	switch {
	case errors.Is(err, control.ErrDaemonNotRunning):
		return fmt.Sprintf("pi2pid is not running (nothing listens on %s): start it with `sudo systemctl start pi2pid.socket`", socket)
	case errors.Is(err, control.ErrPermission):
		return fmt.Sprintf("permission denied on %s: add yourself to group pi2pi with `sudo usermod -aG pi2pi $USER`, then log in again", socket)
	case errors.As(err, &ve):
		return ve.Error()
	case isTimeout(err):
		return fmt.Sprintf("pi2pid did not answer on %s (%v): it may be failing to start; see `systemctl status pi2pid` and `journalctl -u pi2pid -e`", socket, err)
	case errors.Is(err, control.ErrClosed):
		return "pi2pid closed the connection: did it stop or restart? See `journalctl -u pi2pid`"
	case errors.As(err, &ce):
		return describe(ce, "")
	}
	return err.Error()
}

// isTimeout reports a deadline that ran out while talking to pi2pid.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout() || errors.Is(err, context.DeadlineExceeded)
}

// refusal says in words why pi2pid refused a request about peer (the user
// ID asked for, or ""). Every sentence a person reads about a refusal is
// written here, keyed by the code pi2pid sends (internal/control's Code*).
func refusal(err error, peer string) string {
	var ce *control.Error
	if !errors.As(err, &ce) {
		return explain(err, "")
	}
	return describe(ce, peer)
}

// describe says what e means and what to do, in sentences. Names and
// details come from pi2pid, and through it from the network, so they are
// cleaned for display.
func describe(e *control.Error, peer string) string { return sentence(describeWords(e, peer)) }

func describeWords(e *control.Error, peer string) string {
	who := peer
	if e.Peer != "" {
		who = e.Peer
	}
	if who == "" {
		who = "that user"
	}
	who = peertext.Clean(who)
	user := peertext.Clean(e.UserID)
	detail := peertext.Clean(e.Detail)
	if s, ok := peerWords(e.Code, who, detail); ok {
		return s
	}
	if s, ok := terminalWords(e.Code, user, who); ok {
		return s
	}
	if s, ok := passcodeWords(e.Code); ok {
		return s
	}
	switch e.Code {
	case control.CodeRefused:
		return "login refused: wrong user ID or passcode (or the account is locked)"
	case control.CodeServer:
		return "cannot get an answer from the server: " + detail + " (see pi2pictl status and journalctl -u pi2pid)"
	case control.CodeKeyChanged:
		return "the server's key has changed: " + detail + "; check `pi2pi-server fingerprint` on the server, then fix pi2pid's --server-fingerprint or remove the server's line from known_hosts"
	case control.CodeServerBusy:
		return "the server closed the connection during the TLS handshake without answering: it may be busy (all its connection slots taken) or restarting; try again in a minute, and if it persists, tell its administrator"
	case control.CodeNotTLS:
		return "the server does not speak TLS; is it running with --security plain? (then start pi2pid with --security plain too, knowing that logins and chats go in clear text)"
	case control.CodeNoKeyBook:
		return "pi2pid keeps no record of peers' keys (it was started without a state directory), so there is nothing to accept"
	case control.CodeConfig:
		return "pi2pid cannot start, its settings are wrong: " + detail + ". Fix them, then run `sudo systemctl restart pi2pid`"
	case control.CodeLogoutUnconfirmed:
		return "Logged out here, but the server did not confirm the logout (" + detail + "): it may keep your login " +
			"until its session timeout ends it (pi2pi-server: 15 minutes after this terminal's last request, by default)."
	case control.CodeServerForgot:
		return "the server no longer knows you are logged in (it may have restarted or timed you out): log in again"
	case control.CodeUsage:
		return "pi2pid did not understand the request: " + detail
	case control.CodeVersion:
		if detail == "" {
			return "pi2pid and pi2pictl speak different versions of the control protocol: upgrade the older one"
		}
		return detail
	}
	if detail != "" {
		return "pi2pid failed: " + detail
	}
	return "pi2pid refused: " + peertext.Clean(string(e.Code))
}

// peerWords words the codes about the other terminal.
func peerWords(code control.Code, who, detail string) (string, bool) {
	switch code {
	case control.CodeNotFound:
		return who + " is not logged in.", true
	case control.CodeBusy:
		return who + " is busy in another chat; try again later.", true
	case control.CodeAway:
		return who + " is logged in but away (nobody is at that terminal); try again later.", true
	case control.CodePeerRefused:
		if detail == "" {
			return who + "'s terminal refused the chat.", true
		}
		return who + "'s terminal refused the chat (" + detail + ").", true
	case control.CodeNoKey:
		return "the server holds no key for " + who + ", so the chat cannot be secured (is " + who + "'s terminal in plain mode?)", true
	case control.CodeWrongKey:
		return who + "'s terminal presented a key other than the one the server holds for " + who + ": someone may be impersonating them; chat refused", true
	case control.CodeUnreachable:
		return "cannot reach " + who + "'s terminal: " + detail, true
	case control.CodeBroken:
		return "the connection to " + who + " broke (" + detail + "): what you typed since may not have arrived", true
	case control.CodePeerStalled:
		return who + "'s terminal stopped answering: what you typed since it last answered may not have arrived", true
	case control.CodePeerClosed:
		return who + " had closed the chat: what you sent after that did not arrive", true
	case control.CodeCutOff:
		return "the chat with " + who + " was cut off (" + detail + ") before " + who + " had taken everything: the last of what you sent may not have arrived", true
	case control.CodeSendFailed:
		return "sending to " + who + " failed (" + detail + "): what you typed since may not have arrived", true
	case control.CodePeersUnreadable:
		return "cannot read the record of your peers' keys (" + detail + "), so pi2pid cannot tell whether " + who + "'s key changed: " +
			"compare the safety code by voice, and fix the file's permissions (sudo systemctl restart pi2pid repairs the state directory)", true
	case control.CodePeersUnwritable:
		return "cannot record " + who + "'s key (" + detail + "): a later change of it will not be noticed", true
	case control.CodePeersDamaged:
		return "the record of your peers' keys is damaged (" + detail + "), so pi2pid cannot tell whether " + who + "'s key changed: " +
			"compare the safety code by voice; once it matches, run `pi2pictl verify " + who + " --accept`, " +
			"which keeps the damaged file beside it as peers.damaged-TIME and starts a new record; until then every chat warns", true
	case control.CodeOddReason:
		return who + "'s terminal refused the chat (it gave a reason pi2pi does not know).", true
	case control.CodeSelf:
		return "you cannot chat with yourself", true
	case control.CodeBadUserID:
		return "bad user ID: " + detail, true
	case control.CodePlainMode:
		return "there are no keys to compare in plain mode: safety codes exist in secure mode only (pi2pid --security secure)", true
	}
	return "", false
}

// terminalWords words the codes about this terminal's own state.
func terminalWords(code control.Code, user, who string) (string, bool) {
	switch code {
	case control.CodeNotLoggedIn:
		return "not logged in: run `pi2pictl login` first", true
	case control.CodeLoggingIn:
		return "a login of " + user + " is in progress", true
	case control.CodeLoggedIn:
		return "already logged in as " + user + ": run `pi2pictl logout` first", true
	case control.CodeChatting:
		return "already chatting with " + who + ": end that chat first", true
	case control.CodeSettingUp:
		return "busy setting up a chat with " + who + ": try again in a moment", true
	case control.CodeLoggingOut:
		return "a logout of " + user + " is in progress: try again in a moment", true
	case control.CodeChatCancelled:
		return "chat request for " + who + " cancelled", true
	case control.CodeLoggedOut:
		return "the chat with " + who + " was abandoned: this terminal logged out", true
	case control.CodeNoChat:
		return "no chat in progress: start one with `pi2pictl chat USERID`", true
	case control.CodeNoStream:
		return "the chat with " + who + " was ended: pi2pictl did not open its data stream in time (is the machine overloaded?)", true
	case control.CodeStopping:
		return "pi2pid is stopping (it was told to: `systemctl stop pi2pid`, or a signal); once it has stopped, start it again with `sudo systemctl start pi2pid`", true
	}
	return "", false
}

// passcodeWords words the codes about passcode entry.
func passcodeWords(code control.Code) (string, bool) {
	switch code {
	case control.CodeNoEntry:
		return "no passcode entry in progress: run `pi2pictl login` first", true
	case control.CodeNoConsole:
		return "pi2pid reads passcodes from its own keypad, not from this terminal: use the keypad", true
	case control.CodeNoKeypad:
		return "pi2pid runs without a keypad (--keypad none): restart it with --keypad console, rpio or gpiocdev", true
	case control.CodeTooFast:
		return "keys arrive faster than pi2pid takes them: slow down", true
	case control.CodeCancelled:
		return "passcode entry cancelled", true
	case control.CodeTimedOut:
		return "no key was pressed on the keypad for too long", true
	case control.CodeEmpty:
		return "no digits were entered before Enter", true
	case control.CodeTooLong:
		return "the passcode has too many digits", true
	}
	return "", false
}

// eventWords says why a chat or a login session ended, "" for a normal end.
func eventWords(ev control.Reply) string {
	if e := control.ErrorOf(ev); e != nil {
		return describe(e, ev.Peer)
	}
	return ""
}

// keyWarnings are the warnings about the peer's key that a chat-start
// event or a verify result carries, in words.
func keyWarnings(r control.Reply) []string {
	peer := peertext.Clean(r.Peer)
	var ws []string
	if r.OldFingerprint != "" {
		ws = append(ws, keyChanged(peer, r.OldFingerprint, r.PeerFingerprint))
	}
	if r.Warning != "" {
		ws = append(ws, "Warning: "+describe(&control.Error{Code: r.Warning, Peer: r.Peer, Detail: r.WarningDetail}, r.Peer))
	}
	return ws
}

// keyChanged warns that peer's key differs from the one accepted.
func keyChanged(peer, was, now string) string {
	return fmt.Sprintf("Warning: %s's key has changed since you accepted it (was %s, now %s). "+
		"If %s did not reinstall their terminal, someone may be impersonating them: compare the safety code by voice before you trust this chat. "+
		"Once it matches, run `pi2pictl verify %s --accept`; until then every chat with this key warns.",
		peer, peertext.Clean(was), peertext.Clean(now), peer, peer)
}

// loginRefusal says why a login failed; msg is already in words.
func loginRefusal(code control.Code, msg string) string {
	switch code {
	case control.CodeRefused:
		return "Login refused: wrong user ID or passcode (or the account is locked after repeated failures; a lock ends by itself, try again later)."
	case control.CodeTimedOut:
		return "Login timed out: no key was pressed on the keypad for too long."
	case control.CodeCancelled:
		return "Login cancelled."
	}
	if msg != "" {
		return sentence("Login failed: " + msg)
	}
	return "Login failed."
}

// streamFailedMsg says why a chat's data stream could not be opened.
func streamFailedMsg(err error) string {
	if control.CodeOf(err) == control.CodeNoChat {
		return "the chat ended before its text could flow."
	}
	return sentence("cannot open the chat's data stream: " + err.Error())
}

// stoppedSetUpMsg says that pi2pid stopped while it set up a chat with
// peer (a shutdown abandons the set-up: CodeStopping), and what to do.
func stoppedSetUpMsg(peer string) string {
	if peer == "" {
		peer = "that user"
	}
	return "the chat with " + peertext.Clean(peer) + " was not set up: pi2pid was stopped (`systemctl stop pi2pid`, or a signal) and has logged out; " +
		"start it again with `sudo systemctl start pi2pid`, log in, and call " + peertext.Clean(peer) + " again."
}
