package cli

import (
	"fmt"
	"strings"
	"testing"

	"github.com/pi2pi/pi2pi/internal/control"
)

// Every code pi2pid can send has its own words here, and the words name
// whom the refusal is about; names from the network are cleaned.
func TestEveryCodeHasWords(t *testing.T) {
	seen := map[string]control.Code{}
	for _, code := range control.Codes {
		e := &control.Error{Code: code, UserID: "ali", Peer: "bianca", Detail: "cause\x1b[2J"}
		s := describe(e, "")
		if strings.HasPrefix(s, "pi2pid refused: ") || strings.HasPrefix(s, "pi2pid failed: ") && code != control.CodeInternal {
			t.Errorf("code %s has no words of its own: %q", code, s)
		}
		if strings.Contains(s, "\x1b") {
			t.Errorf("code %s: %q shows an escape from the network", code, s)
		}
		if other, dup := seen[s]; dup {
			t.Errorf("codes %s and %s read the same: %q", other, code, s)
		}
		seen[s] = code
	}
	for code, want := range map[control.Code]string{
		control.CodeNotFound: "bianca is not logged in.", control.CodeLoggedIn: "already logged in as ali",
		control.CodeBusy: "bianca is busy", control.CodeAway: "bianca is logged in but away",
		control.CodeWrongKey: "impersonating", control.CodeServerForgot: "log in again",
	} {
		if s := describe(&control.Error{Code: code, UserID: "ali", Peer: "bianca"}, ""); !strings.Contains(s, want) {
			t.Errorf("code %s: %q, want it to say %q", code, s, want)
		}
	}
	if s := describe(&control.Error{Code: "from-the-future"}, "x"); !strings.Contains(s, "from-the-future") {
		t.Errorf("an unknown code is not named: %q", s)
	}
}

// A pi2pid that cannot start says so in its hello (CodeConfig, with the
// file and the cause); pi2pictl says what is wrong and what to do.
func TestExplainConfigHello(t *testing.T) {
	err := &control.Error{Code: control.CodeConfig, Detail: "/etc/pi2pi/pi2pid.conf: no server address"}
	got := explain(err, "/run/pi2pi/control.sock")
	for _, want := range []string{"cannot start", "no server address", "/etc/pi2pi/pi2pid.conf", "sudo systemctl restart pi2pid"} {
		if !strings.Contains(got, want) {
			t.Errorf("%q does not say %q", got, want)
		}
	}
}

// The key warnings of a chat-start or verify: a changed key names both
// fingerprints and how to accept it; a record that cannot be read warns
// without an old fingerprint.
func TestKeyWarnings(t *testing.T) {
	if ws := keyWarnings(control.Reply{Peer: "ali", PeerFingerprint: "SHA256:new"}); len(ws) != 0 {
		t.Fatalf("no warning expected: %q", ws)
	}
	ws := keyWarnings(control.Reply{Peer: "ali", PeerFingerprint: "SHA256:new", OldFingerprint: "SHA256:old"})
	if len(ws) != 1 || !strings.Contains(ws[0], "SHA256:old") || !strings.Contains(ws[0], "SHA256:new") ||
		!strings.Contains(ws[0], "pi2pictl verify ali --accept") {
		t.Fatalf("changed key: %q", ws)
	}
	ws = keyWarnings(control.Reply{Peer: "ali", Warning: control.CodePeersUnreadable, WarningDetail: "permission denied"})
	if len(ws) != 1 || !strings.HasPrefix(ws[0], "Warning: ") || !strings.Contains(ws[0], "cannot read the record") ||
		!strings.Contains(ws[0], "permission denied") || !strings.Contains(ws[0], "ali's key") {
		t.Fatalf("unreadable record: %q", ws)
	}
}

// Every code that reaches a command's error path (the "pi2pictl: ..." line
// of cli.go, a slash command, the transcript) is worded by describe, never
// printed raw as "not-logged-in" or "setting-up: bianca: looking-up".
func TestExplainWordsEveryCode(t *testing.T) {
	for _, code := range control.Codes {
		e := &control.Error{Code: code, UserID: "ali", Peer: "bianca", Detail: string(control.StateLookingUp)}
		for _, err := range []error{e, fmt.Errorf("logout: %w", e)} {
			got := explain(err, "/x")
			if want := describe(e, ""); got != want {
				t.Errorf("explain(%v) = %q, want the words %q", err, got, want)
			}
			if strings.Contains(got, e.Error()) {
				t.Errorf("explain(%v) = %q shows the raw code", err, got)
			}
		}
	}
}
