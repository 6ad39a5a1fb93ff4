package e2e

import (
	"strings"
	"testing"
)

// TestStatusSaysWhatTrustOnFirstUseMeans: while the server's key is not
// configured, `pi2pictl status` says plainly that someone on the path at
// the first login could learn the passcode, and how to pin the key; with
// the fingerprint configured it says nothing of the kind. (And verify,
// outside a chat, shows fingerprints.)
func TestStatusSaysWhatTrustOnFirstUseMeans(t *testing.T) {
	needBinaries(t)
	t.Parallel()
	srv := startServer(t, "secure", []string{"ali", "bianca"})

	tofu := startTerminal(t, srv)
	_, errOut, code := tofu.ctl("", "status")
	if code != 0 || !strings.Contains(errOut, "not pinned yet") || !strings.Contains(errOut, "learn the passcode") ||
		!strings.Contains(errOut, "server-fingerprint=") {
		t.Errorf("status before the first login: exit %d, stderr %q", code, errOut)
	}
	tofu.login("ali")
	out, errOut, _ := tofu.ctl("", "status")
	if !strings.Contains(errOut, "pinned on first use") || !strings.Contains(errOut, "learned the passcode") {
		t.Errorf("status after the first login: stderr %q", errOut)
	}
	if !strings.Contains(out, srv.fingerprint()) {
		t.Errorf("status does not show the pinned key %s:\n%s", srv.fingerprint(), out)
	}

	pinned := startTerminal(t, srv, withDaemonArgs("--server-fingerprint", srv.fingerprint()))
	pinned.login("bianca")
	_, errOut, code = pinned.ctl("", "status")
	if code != 0 || strings.Contains(errOut, "Warning") {
		t.Errorf("status with a configured fingerprint: exit %d, stderr %q", code, errOut)
	}

	// Outside a chat there is no safety code: verify shows both keys'
	// fingerprints to compare in full.
	out, errOut, code = tofu.ctl("", "verify", "bianca")
	if code != 0 || !strings.Contains(out, "No chat with bianca now") || strings.Count(out, "SHA256:") != 2 ||
		strings.Contains(out, "Safety code:") {
		t.Errorf("verify outside a chat: exit %d\nstdout %q\nstderr %q", code, out, errOut)
	}
}
