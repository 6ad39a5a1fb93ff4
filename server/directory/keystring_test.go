package directory

import (
	"strings"
	"testing"

	"github.com/pi2pi/pi2pi/internal/transport"
	"github.com/pi2pi/pi2pi/internal/wire"
	"github.com/pi2pi/pi2pi/server/userstore"
)

// setKeys gives users key strings in the users file and reloads it.
func (h *harness) setKeys(keys map[string]string) {
	h.t.Helper()
	err := userstore.Edit(h.usersTxt, func(u map[string]userstore.User) error {
		for n, k := range keys {
			v := u[n]
			v.Key = k
			u[n] = v
		}
		return nil
	})
	if err != nil {
		h.t.Fatal(err)
	}
	if err := h.dir.Reload(); err != nil {
		h.t.Fatal(err)
	}
}

// TestPlainLookupCarriesKeyString: in plain mode a SUCCESS LOOKUPREPLY
// carries the looked-up user's key string, exactly as the seeds' listing
// does; NOTFOUND replies never carry one, whoever asks.
func TestPlainLookupCarriesKeyString(t *testing.T) {
	h := startServer(t, harnessOpts{})
	h.setKeys(map[string]string{"ali": "crypto", "bianca": "no clue"})
	ali, bianca, eve := h.terminal("127.0.0.2"), h.terminal("127.0.0.3"), h.terminal("127.0.0.4")

	wantStatus(t, ali.login("ali", "1234"), wire.AuthReply, wire.Granted)
	notFound := `{"msgtype":"LOOKUPREPLY","status":"NOTFOUND","answer":"","address":"","encryptionkey":""}`
	// bianca is known and has a key, but is not logged in.
	if raw := ali.exchange(wire.Message{Type: wire.LookupReq, UserID: "ali", Lookup: "bianca"}); string(raw) != notFound {
		t.Errorf("lookup of a user not logged in = %s", raw)
	}
	wantStatus(t, bianca.login("Bianca", "5678"), wire.AuthReply, wire.Granted)
	raw := ali.exchange(wire.Message{Type: wire.LookupReq, UserID: "ali", Lookup: "BIANCA"})
	if want := `{"msgtype":"LOOKUPREPLY","status":"SUCCESS","answer":"bianca","address":"127.0.0.3","encryptionkey":"no clue"}`; string(raw) != want {
		t.Errorf("SUCCESS bytes = %s, want %s", raw, want)
	}
	r := bianca.lookup("bianca", "ali")
	if r.Status != wire.Success || r.EncryptionKey != "crypto" {
		t.Errorf("bianca's lookup of ali = %+v, want key crypto", r)
	}
	// Requests not from a logged-in requester get nothing: someone not
	// logged in, ali's name from another address, a bad requester ID.
	for _, c := range []struct {
		tm  *terminal
		req wire.Message
	}{
		{eve, wire.Message{Type: wire.LookupReq, UserID: "eve", Lookup: "bianca"}},
		{eve, wire.Message{Type: wire.LookupReq, UserID: "ali", Lookup: "bianca"}},
		{eve, wire.Message{Type: wire.LookupReq, UserID: "no such", Lookup: "bianca"}},
		{eve, wire.Message{Type: wire.LookupReq, UserID: "", Lookup: "bianca"}},
		{ali, wire.Message{Type: wire.LookupReq, UserID: "ali", Lookup: "nobody"}},
	} {
		if raw := c.tm.exchange(c.req); string(raw) != notFound {
			t.Errorf("%+v from %s = %s, want %s", c.req, c.tm.ip, raw, notFound)
		}
	}
	// A changed key is handed out after the reload; a removed one is "".
	h.setKeys(map[string]string{"bianca": "fresh"})
	if r := ali.lookup("ali", "bianca"); r.EncryptionKey != "fresh" {
		t.Errorf("after changing the key: %+v", r)
	}
	h.setKeys(map[string]string{"bianca": ""})
	if r := ali.lookup("ali", "bianca"); r.Status != wire.Success || r.EncryptionKey != "" {
		t.Errorf("after removing the key: %+v", r)
	}
	if strings.Contains(h.logs.String(), "crypto") || strings.Contains(h.logs.String(), "no clue") {
		t.Errorf("a key string appears in the log:\n%s", h.logs)
	}
}

// TestSecureLookupNeverHandsOutKeyString: in secure mode encryptionkey is
// the terminal's public key, whatever key string the users file holds.
func TestSecureLookupNeverHandsOutKeyString(t *testing.T) {
	h := startServer(t, harnessOpts{mode: transport.Secure})
	h.setKeys(map[string]string{"ali": "crypto", "bianca": "no clue"})
	ali, bianca := h.terminal("127.0.0.2"), h.terminal("127.0.0.3")
	wantStatus(t, ali.login("ali", "1234"), wire.AuthReply, wire.Granted)
	wantStatus(t, bianca.login("bianca", "5678"), wire.AuthReply, wire.Granted)
	raw := ali.exchange(wire.Message{Type: wire.LookupReq, UserID: "ali", Lookup: "bianca"})
	if strings.Contains(string(raw), "no clue") || strings.Contains(string(raw), "crypto") {
		t.Fatalf("secure LOOKUPREPLY hands out a key string: %s", raw)
	}
	r, err := wire.Unmarshal(raw)
	if err != nil {
		t.Fatal(err)
	}
	if want := transport.KeyString(bianca.tc.Identity.Public); r.EncryptionKey != want {
		t.Errorf("encryptionkey = %q, want bianca's public key %q", r.EncryptionKey, want)
	}
}
