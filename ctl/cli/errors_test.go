package cli

import (
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
