package sessions

import (
	"crypto/ed25519"
	"net/netip"
	"path/filepath"
	"testing"
	"time"
)

func TestLoginTouchTimeoutPersist(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	clock := func() time.Time { return now }
	path := filepath.Join(t.TempDir(), "sessions")
	tb, err := Open(Options{Path: path, Timeout: 15 * time.Minute, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	pub, _, _ := ed25519.GenerateKey(nil)
	other, _, _ := ed25519.GenerateKey(nil)
	ip := netip.MustParseAddr("127.0.0.2")
	tb.Login("ali", ip, pub)
	tb.Login("bianca", netip.MustParseAddr("127.0.0.3"), nil)
	if err := tb.Save(); err != nil {
		t.Fatal(err)
	}
	if tb.Touch("ali", ip, other) || tb.Touch("ali", netip.MustParseAddr("127.0.0.9"), pub) || tb.Touch("ali", ip, nil) {
		t.Fatal("touch matched another key or address")
	}
	if tb.Touch("bianca", netip.MustParseAddr("127.0.0.3"), pub) {
		t.Fatal("a plain login matched a keyed request")
	}
	// Reopen without Close (as after SIGKILL): both are there.
	tb2, err := Open(Options{Path: path, Timeout: 15 * time.Minute, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	s, ok := tb2.Get("ali")
	if !ok || s.IP != ip || !s.Key.Equal(pub) {
		t.Fatalf("ali after restart: %+v %v", s, ok)
	}
	now = now.Add(10 * time.Minute)
	if !tb2.Touch("ali", ip, pub) {
		t.Fatal("touch failed")
	}
	now = now.Add(10 * time.Minute)
	if _, ok := tb2.Get("bianca"); ok {
		t.Fatal("bianca did not time out")
	}
	if _, ok := tb2.Get("ali"); !ok {
		t.Fatal("activity did not keep ali logged in")
	}
	if n := tb2.Sweep(); n != 1 {
		t.Fatalf("swept %d", n)
	}
	if !tb2.Logout("ali", ip, pub) || tb2.Len() != 0 {
		t.Fatal("logout failed")
	}
	tb.Close()
	tb2.Close()
}
