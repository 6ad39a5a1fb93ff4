package cli

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/pi2pi/pi2pi/daemon/backend/backendtest"
	"github.com/pi2pi/pi2pi/internal/control"
)

// Every message about a code, and every error explained, is a sentence:
// it ends with a period (README, "Messages"), also when it ends with a
// command to type, which is then quoted with backticks.
func TestMessagesAreSentences(t *testing.T) {
	for _, code := range control.Codes {
		for _, detail := range []string{"", "dial tcp 10.0.0.7:8085: connect: connection refused"} {
			s := describe(&control.Error{Code: code, UserID: "ali", Peer: "bianca", Detail: detail}, "")
			if !strings.HasSuffix(s, ".") || strings.HasSuffix(s, "..") {
				t.Errorf("code %s: %q is not one sentence ending with a period", code, s)
			}
		}
	}
	for _, err := range []error{control.ErrDaemonNotRunning, control.ErrPermission, control.ErrClosed,
		&control.VersionError{Client: 3, Daemon: 2}, errors.New("setting up the terminal: bad file descriptor"),
		fmt.Errorf("logout: %w", &control.Error{Code: control.CodeNoChat})} {
		if s := explain(err, "/run/pi2pid/control.sock"); !strings.HasSuffix(s, ".") {
			t.Errorf("explain(%v) = %q does not end with a period", err, s)
		}
	}
	for _, s := range []string{stoppedSetUpMsg("bianca"), waitLoggedOutMsg, loggedOutMsg(""), loggedOutMsg("bye"),
		otherUserMsg("ali", "bianca"), whyEndedUnstarted, streamFailedMsg(errors.New("EOF")),
		loginRefusal("", "no answer")} {
		if !strings.HasSuffix(s, ".") {
			t.Errorf("%q does not end with a period", s)
		}
	}
}

// A one-shot command that pi2pid refuses says so on stderr as the other
// failures of a command do, after "pi2pictl: "; the shell shows the same
// refusal as a line of its transcript, without the prefix.
func TestRefusalPrefix(t *testing.T) {
	ali := logIn(t, daemon(t, backendtest.Options{}), "ali")
	out, errOut, code := pipeRun(t, ali, "", "chat", "dave")
	if code != 1 || out != "" || errOut != "pi2pictl: dave is not logged in.\n" {
		t.Errorf("chat dave: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	out, errOut, code = pipeRun(t, ali, "dave\n")
	if code != 0 || !strings.Contains(out, promptDest) || errOut != "dave is not logged in.\n" {
		t.Errorf("the shell: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}
