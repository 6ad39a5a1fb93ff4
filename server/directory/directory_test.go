package directory

import (
	"bytes"
	"testing"
	"time"

	"github.com/pi2pi/pi2pi/internal/credential"
	"github.com/pi2pi/pi2pi/internal/transport"
	"github.com/pi2pi/pi2pi/internal/wire"
	"github.com/pi2pi/pi2pi/server/guard"
	"github.com/pi2pi/pi2pi/server/userstore"
)

func wantStatus(t *testing.T, m wire.Message, typ, status string) {
	t.Helper()
	if m.Type != typ || m.Status != status {
		t.Fatalf("got %s %s, want %s %s", m.Type, m.Status, typ, status)
	}
}

func TestSeedFlowPlain(t *testing.T) {
	h := startServer(t, harnessOpts{})
	ali, bianca, eve := h.terminal("127.0.0.2"), h.terminal("127.0.0.3"), h.terminal("127.0.0.4")

	wantStatus(t, ali.login("ali", "1234"), wire.AuthReply, wire.Granted)
	// bianca is not logged in yet.
	wantStatus(t, ali.lookup("ali", "bianca"), wire.LookupReply, wire.NotFound)
	// Course peers send "Bianca": user IDs match case-insensitively.
	r := bianca.login("Bianca", "5678")
	wantStatus(t, r, wire.AuthReply, wire.Granted)
	if r.UserID != "bianca" {
		t.Errorf("AUTHREPLY userid = %q, want bianca", r.UserID)
	}
	r = ali.lookup("ali", "bianca")
	wantStatus(t, r, wire.LookupReply, wire.Success)
	if r.Answer != "bianca" || r.Address != "127.0.0.3" || r.EncryptionKey != "" {
		t.Errorf("lookup = %+v, want bianca at 127.0.0.3 with no key", r)
	}
	// A lookup in ali's name from another address gets nothing.
	wantStatus(t, eve.lookup("ali", "bianca"), wire.LookupReply, wire.NotFound)
	// Someone not logged in gets nothing.
	wantStatus(t, eve.lookup("eve", "bianca"), wire.LookupReply, wire.NotFound)
	// The exact bytes of the course handouts' replies.
	raw := ali.exchange(wire.Message{Type: wire.LookupReq, UserID: "ali", Lookup: "nobody"})
	if want := `{"msgtype":"LOOKUPREPLY","status":"NOTFOUND","answer":"","address":"","encryptionkey":""}`; string(raw) != want {
		t.Errorf("NOTFOUND bytes = %s, want %s", raw, want)
	}
}

func TestSecureBindsUserToKeyAndAddress(t *testing.T) {
	h := startServer(t, harnessOpts{mode: transport.Secure})
	ali, bianca := h.terminal("127.0.0.2"), h.terminal("127.0.0.3")
	wantStatus(t, ali.login("ali", "1234"), wire.AuthReply, wire.Granted)
	wantStatus(t, bianca.login("bianca", "5678"), wire.AuthReply, wire.Granted)
	r := ali.lookup("ali", "bianca")
	wantStatus(t, r, wire.LookupReply, wire.Success)
	if want := transport.KeyString(bianca.tc.Identity.Public); r.EncryptionKey != want {
		t.Errorf("encryptionkey = %q, want bianca's public key %q", r.EncryptionKey, want)
	}
	// Same address, another key: not ali's login.
	impostor := h.terminal("127.0.0.2")
	wantStatus(t, impostor.lookup("ali", "bianca"), wire.LookupReply, wire.NotFound)
	// Logging out needs the same binding too.
	wantStatus(t, impostor.send(wire.Message{Type: wire.LogoutReq, UserID: "ali"}), wire.LogoutReply, wire.NotFound)
	wantStatus(t, ali.send(wire.Message{Type: wire.LogoutReq, UserID: "ali"}), wire.LogoutReply, wire.Success)
	wantStatus(t, bianca.lookup("bianca", "ali"), wire.LookupReply, wire.NotFound)
}

func TestPlainClientOnSecureServerIsRefusedAndLogged(t *testing.T) {
	h := startServer(t, harnessOpts{mode: transport.Secure})
	plain := &terminal{h: h, tc: &transport.Config{Mode: transport.Plain}}
	c, err := plain.tc.Dial(t.Context(), h.addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	_ = wire.Write(c, wire.Message{Type: wire.AuthReq, UserID: "ali", Passcode: "x"})
	if _, err := wire.NewDecoder(c).Next(); err == nil {
		t.Fatal("a secure server answered a plain-text request")
	}
	waitFor(t, func() bool {
		return bytes.Contains([]byte(h.logs.String()), []byte("refused a plain-text client on a secure server"))
	})
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for i := 0; i < 200; i++ {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("condition not met within 2 s")
}

func TestRefusalsAreByteIdentical(t *testing.T) {
	p := guard.DefaultPolicy
	h := startServer(t, harnessOpts{policy: &p})
	tm := h.terminal("127.0.0.2")
	wrong := func(user string) []byte {
		return tm.exchange(wire.Message{Type: wire.AuthReq, UserID: user, Passcode: credential.FromDigits(user, []byte("0000"))})
	}
	unknown := wrong("zed")
	wrongPass := wrong("ali")
	// Lock bianca (failures from many addresses), then send her correct
	// passcode.
	for i := 0; i < p.LockAfter; i++ {
		h.terminal(freshAddr(i)).exchange(wire.Message{Type: wire.AuthReq, UserID: "bianca", Passcode: credential.FromDigits("bianca", []byte("0000"))})
	}
	h.clock.Advance(p.MaxDelay) // past any delay: only the lock refuses
	if !h.guard.Locked("bianca", time.Time{}) {
		t.Fatal("bianca is not locked")
	}
	locked := tm.exchange(wire.Message{Type: wire.AuthReq, UserID: "bianca", Passcode: credential.FromDigits("bianca", []byte("5678"))})
	if !bytes.Equal(unknown, wrongPass) || !bytes.Equal(unknown, locked) {
		t.Fatalf("refusals differ:\nunknown user:   %s\nwrong passcode: %s\nlocked:         %s", unknown, wrongPass, locked)
	}
	if want := `{"msgtype":"AUTHREPLY","userid":"","status":"REFUSED"}`; string(unknown) != want {
		t.Errorf("REFUSED = %s, want %s", unknown, want)
	}
}

// Twenty wrong passcodes from twenty addresses lock the account; the lock
// survives a restart and `user unlock` ends it at once.
func TestTwentyWrongPasscodesLockTheAccount(t *testing.T) {
	h := startServer(t, harnessOpts{})
	tm := h.terminal("127.0.0.2")
	for i := 0; i < 20; i++ {
		wantStatus(t, h.terminal(freshAddr(i)).login("ali", "9999"), wire.AuthReply, wire.Refused)
	}
	h.clock.Advance(2 * time.Minute) // past any delay, inside the 5 min lock
	wantStatus(t, tm.login("ali", "1234"), wire.AuthReply, wire.Refused)
	if !h.guard.Locked("ali", time.Time{}) {
		t.Fatal("ali is not locked after 20 failures")
	}
	// Counters survive a restart.
	h.stop()
	h2 := startServer(t, harnessOpts{dir: h.stateDir, clock: h.clock})
	tm2 := h2.terminal("127.0.0.2")
	wantStatus(t, tm2.login("ali", "1234"), wire.AuthReply, wire.Refused)
	// `user unlock` records the unlock time in the users file.
	h.clock.Advance(time.Second)
	err := userstore.Edit(h2.usersTxt, func(u map[string]userstore.User) error {
		a := u["ali"]
		a.Unlocked = h.clock.Now()
		u["ali"] = a
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	h.clock.Advance(time.Second)
	wantStatus(t, tm2.login("ali", "1234"), wire.AuthReply, wire.Granted)
}

// Failures from anywhere add up: five are free, then a correct passcode
// counts only after a wait that doubles with each failure; a success does
// not reset the count (issue 11 item 4).
func TestEscalatingDelaysAfterFiveFailures(t *testing.T) {
	h := startServer(t, harnessOpts{})
	tm := h.terminal("127.0.0.2")
	n := 0
	guess := func() {
		wantStatus(t, h.terminal(freshAddr(n)).login("ali", "9999"), wire.AuthReply, wire.Refused)
		n++
	}
	for i := 0; i < 5; i++ {
		guess()
	}
	// Right passcode, too soon: refused.
	wantStatus(t, tm.login("ali", "1234"), wire.AuthReply, wire.Refused)
	h.clock.Advance(1100 * time.Millisecond)
	if r := tm.login("ali", "1234"); r.Status != wire.Granted || r.FailedAttempts != "5" {
		t.Fatalf("after the wait: %+v, want GRANTED with failedattempts 5", r)
	}
	// Two more failures make seven: the wait is now 4 s.
	guess()
	guess()
	h.clock.Advance(3 * time.Second)
	wantStatus(t, tm.login("ali", "1234"), wire.AuthReply, wire.Refused)
	h.clock.Advance(1100 * time.Millisecond)
	wantStatus(t, tm.login("ali", "1234"), wire.AuthReply, wire.Granted)
}

func TestPerSourceLimit(t *testing.T) {
	p := guard.DefaultPolicy
	p.SourceBurst = 4
	h := startServer(t, harnessOpts{policy: &p})
	attacker, other := h.terminal("127.0.0.9"), h.terminal("127.0.0.2")
	// One guess at each of many accounts: no account limit is reached.
	for _, u := range []string{"a1", "a2", "a3", "a4"} {
		wantStatus(t, attacker.login(u, "1111"), wire.AuthReply, wire.Refused)
	}
	// Now even a correct passcode from that address is refused...
	wantStatus(t, attacker.login("ali", "1234"), wire.AuthReply, wire.Refused)
	// ...but not from another address.
	wantStatus(t, other.login("ali", "1234"), wire.AuthReply, wire.Granted)
	// The bucket refills: one failure forgiven per SourceRefill.
	h.clock.Advance(p.SourceRefill + time.Second)
	wantStatus(t, attacker.login("bianca", "5678"), wire.AuthReply, wire.Granted)
}

func TestSessionsSurviveRestartAndTimeOut(t *testing.T) {
	h := startServer(t, harnessOpts{timeout: 15 * time.Minute})
	ali, bianca := h.terminal("127.0.0.2"), h.terminal("127.0.0.3")
	wantStatus(t, ali.login("ali", "1234"), wire.AuthReply, wire.Granted)
	wantStatus(t, bianca.login("bianca", "5678"), wire.AuthReply, wire.Granted)
	h.stop()
	h2 := startServer(t, harnessOpts{dir: h.stateDir, clock: h.clock, timeout: 15 * time.Minute})
	ali.h, bianca.h = h2, h2
	wantStatus(t, ali.lookup("ali", "bianca"), wire.LookupReply, wire.Success)
	// ali's lookups keep ali active; bianca says nothing for 15 minutes.
	for i := 0; i < 3; i++ {
		h.clock.Advance(6 * time.Minute)
		wantStatus(t, ali.lookup("ali", "nobody"), wire.LookupReply, wire.NotFound)
	}
	wantStatus(t, ali.lookup("ali", "bianca"), wire.LookupReply, wire.NotFound)
	wantStatus(t, bianca.lookup("bianca", "ali"), wire.LookupReply, wire.NotFound)
}

func TestReloadKeepsSessions(t *testing.T) {
	h := startServer(t, harnessOpts{})
	ali, bianca := h.terminal("127.0.0.2"), h.terminal("127.0.0.3")
	wantStatus(t, ali.login("ali", "1234"), wire.AuthReply, wire.Granted)
	wantStatus(t, bianca.login("bianca", "5678"), wire.AuthReply, wire.Granted)
	hasher := userstore.NewHasher(h.pepper, cheapParams, 1)
	h.addUser(hasher, "carol", "4321")
	if err := userstore.Edit(h.usersTxt, func(u map[string]userstore.User) error { delete(u, "bianca"); return nil }); err != nil {
		t.Fatal(err)
	}
	if err := h.dir.Reload(); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, ali.lookup("ali", "ali"), wire.LookupReply, wire.Success)
	wantStatus(t, ali.lookup("ali", "bianca"), wire.LookupReply, wire.NotFound)
	carol := h.terminal("127.0.0.4")
	wantStatus(t, carol.login("carol", "4321"), wire.AuthReply, wire.Granted)
	// A broken users file keeps the users in force.
	if err := userstore.Edit(h.usersTxt, func(u map[string]userstore.User) error { return nil }); err != nil {
		t.Fatal(err)
	}
}

func TestChangedUsersFileIsPickedUpWithoutSignal(t *testing.T) {
	h := startServer(t, harnessOpts{})
	hasher := userstore.NewHasher(h.pepper, cheapParams, 1)
	h.addUser(hasher, "dave", "2468")
	wantStatus(t, h.terminal("127.0.0.5").login("dave", "2468"), wire.AuthReply, wire.Granted)
}
