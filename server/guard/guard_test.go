package guard

import (
	"net/netip"
	"path/filepath"
	"testing"
	"time"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

var ip = netip.MustParseAddr("127.0.0.2")

func TestAccountLimits(t *testing.T) {
	c := &clock{t: time.Unix(1_700_000_000, 0)}
	g, _ := New(Options{Policy: DefaultPolicy, Now: c.now})
	for i := 1; i <= 5; i++ {
		g.Decide("ali", time.Time{}, ip, false)
	}
	// Five failures: delays start at 1 s and double.
	for n, want := range map[int]time.Duration{5: time.Second, 6: 2 * time.Second, 7: 4 * time.Second, 9: 16 * time.Second} {
		if got := g.delay(n); got != want {
			t.Errorf("delay(%d) = %v, want %v", n, got, want)
		}
	}
	if ok, _ := g.Decide("ali", time.Time{}, ip, true); ok {
		t.Fatal("granted inside the delay")
	}
	c.t = c.t.Add(time.Second)
	if ok, _ := g.Decide("ali", time.Time{}, ip, true); !ok {
		t.Fatal("refused after the delay")
	}
	// Ten wrong guesses, however fast: locked.
	for i := 0; i < 10; i++ {
		g.Decide("ali", time.Time{}, ip, false)
	}
	c.t = c.t.Add(24 * time.Hour)
	if ok, _ := g.Decide("ali", time.Time{}, ip, true); ok || !g.Locked("ali", time.Time{}) {
		t.Fatal("not locked after 10 failures")
	}
	// An unlock after the last failure clears it.
	if ok, _ := g.Decide("ali", c.t, ip, true); !ok {
		t.Fatal("still locked after unlock")
	}
}

func TestSourceBucket(t *testing.T) {
	c := &clock{t: time.Unix(1_700_000_000, 0)}
	p := DefaultPolicy
	p.SourceBurst, p.SourceRefill = 3, 10*time.Second
	g, _ := New(Options{Policy: p, Now: c.now})
	for i := 0; i < 3; i++ {
		if !g.SourceAllowed(ip) {
			t.Fatalf("blocked after %d failures", i)
		}
		g.Decide("u"+string(rune('a'+i)), time.Time{}, ip, false)
	}
	if g.SourceAllowed(ip) {
		t.Fatal("not blocked after the burst")
	}
	if !g.SourceAllowed(netip.MustParseAddr("127.0.0.3")) {
		t.Fatal("another address is blocked")
	}
	c.t = c.t.Add(10 * time.Second)
	if !g.SourceAllowed(ip) {
		t.Fatal("bucket did not refill")
	}
}

func TestCountersSurviveRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "failures")
	c := &clock{t: time.Unix(1_700_000_000, 0)}
	g, err := New(Options{Policy: DefaultPolicy, Path: path, Now: c.now})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 12; i++ {
		g.Decide("ali", time.Time{}, ip, false)
	}
	if err := g.Save(); err != nil {
		t.Fatal(err)
	}
	// No Close: as after SIGKILL, only what Save wrote is there.
	g2, err := New(Options{Policy: DefaultPolicy, Path: path, Now: c.now})
	if err != nil {
		t.Fatal(err)
	}
	defer g2.Close()
	defer g.Close()
	if !g2.Locked("ali", time.Time{}) {
		t.Fatal("lock lost in restart")
	}
	if g2.SourceAllowed(ip) != g.SourceAllowed(ip) {
		t.Fatal("source bucket lost in restart")
	}
}

func TestTableIsBoundedAndKeepsKnownUsers(t *testing.T) {
	p := DefaultPolicy
	p.MaxTracked, p.SourceBurst = 10, 1<<30
	g, _ := New(Options{Policy: p, Known: func(n string) bool { return n == "ali" }})
	for i := 0; i < 10; i++ {
		g.Decide("ali", time.Time{}, ip, false)
	}
	for i := 0; i < 100; i++ {
		g.Decide(string(rune('a'+i%26))+string(rune('a'+i/26)), time.Time{}, ip, false)
	}
	if len(g.accounts) > p.MaxTracked {
		t.Fatalf("%d accounts tracked, max %d", len(g.accounts), p.MaxTracked)
	}
	if !g.Locked("ali", time.Time{}) {
		t.Fatal("flooding unknown names evicted a real user's lock")
	}
}
