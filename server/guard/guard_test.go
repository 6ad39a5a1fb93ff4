package guard

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

var ip = netip.MustParseAddr("127.0.0.2")

// fresh returns the n-th of many distinct source addresses.
func fresh(n int) netip.Addr {
	return netip.AddrFrom4([4]byte{10, byte(n >> 16), byte(n >> 8), byte(n)})
}

func newGuard(t *testing.T, p Policy) (*Guard, *clock) {
	t.Helper()
	c := &clock{t: time.Unix(1_700_000_000, 0)}
	g, err := New(Options{Policy: p, Now: c.now})
	if err != nil {
		t.Fatal(err)
	}
	return g, c
}

func TestDelaysEscalate(t *testing.T) {
	g, c := newGuard(t, DefaultPolicy)
	for i := 0; i < 5; i++ {
		g.Decide("ali", time.Time{}, fresh(i), false)
	}
	// Five failures: delays start at 1 s and double.
	for n, want := range map[int]time.Duration{5: time.Second, 6: 2 * time.Second, 7: 4 * time.Second, 9: 16 * time.Second} {
		if got := g.delay(n); got != want {
			t.Errorf("delay(%d) = %v, want %v", n, got, want)
		}
	}
	if g.Decide("ali", time.Time{}, ip, true).Granted {
		t.Fatal("granted inside the delay")
	}
	c.t = c.t.Add(time.Second)
	if r := g.Decide("ali", time.Time{}, ip, true); !r.Granted || r.Failed != 5 {
		t.Fatalf("after the delay: %+v, want granted with 5 failed attempts", r)
	}
	if r := g.Decide("ali", time.Time{}, ip, true); !r.Granted || r.Failed != 0 {
		t.Fatalf("second login: %+v, want granted with 0 failed attempts", r)
	}
}

// Issue 11 item 4: nine guesses from fresh addresses before each of the
// user's own logins must add up to a lock, not start over each time.
func TestSpreadOutGuessingEndsInLock(t *testing.T) {
	g, c := newGuard(t, DefaultPolicy)
	n := 0
	for round := 0; round < 4; round++ {
		for i := 0; i < 9; i++ {
			g.Decide("ali", time.Time{}, fresh(n), false)
			n++
		}
		c.t = c.t.Add(2 * time.Minute) // past any delay, and ali logs in
		if !g.Decide("ali", time.Time{}, ip, true).Granted {
			if !g.Locked("ali", time.Time{}) {
				t.Fatal("refused but not locked")
			}
			t.Logf("locked after %d guesses in %d rounds", n, round+1)
			return
		}
	}
	t.Fatalf("%d guesses spread between logins and no lock", n)
}

// Issue 11 item 5: a lock ends by itself, and each lock after it is twice
// as long, up to LockMax.
func TestLocksExpireAndEscalate(t *testing.T) {
	p := DefaultPolicy
	g, c := newGuard(t, p)
	n := 0
	guess := func() { g.Decide("ali", time.Time{}, fresh(n), false); n++ }
	for i := 0; i < p.LockAfter; i++ {
		guess()
	}
	want := p.LockBase
	for lock := 1; lock <= 12; lock++ {
		if !g.Locked("ali", time.Time{}) {
			t.Fatalf("lock %d: not locked", lock)
		}
		c.t = c.t.Add(want - time.Second)
		if g.Decide("ali", time.Time{}, ip, true).Granted {
			t.Fatalf("lock %d: granted a second before its end (%s)", lock, want)
		}
		c.t = c.t.Add(time.Second)
		if !g.Decide("ali", time.Time{}, ip, true).Granted {
			t.Fatalf("lock %d: refused after %s", lock, want)
		}
		guess() // one more failure locks again, twice as long
		want = min(2*want, p.LockMax)
	}
	if want != p.LockMax {
		t.Fatalf("locks stop at %s, want %s", want, p.LockMax)
	}
	// Quiet for FailureDecay×LockAfter after the last lock: all forgiven.
	c.t = c.t.Add(p.LockMax + time.Duration(p.LockAfter)*p.FailureDecay)
	if r := g.Decide("ali", time.Time{}, ip, true); !r.Granted {
		t.Fatal("refused after the failures decayed")
	}
	if a, ok := g.Lookup("ali"); ok {
		t.Fatalf("record kept after full decay: %+v", a)
	}
}

func TestFailuresDuringALockDoNotProlongIt(t *testing.T) {
	p := DefaultPolicy
	g, c := newGuard(t, p)
	for i := 0; i < 200; i++ {
		g.Decide("ali", time.Time{}, fresh(i), false)
	}
	c.t = c.t.Add(p.LockBase)
	if r := g.Decide("ali", time.Time{}, ip, true); !r.Granted || r.Failed != 200 {
		t.Fatalf("after the first lock: %+v, want granted, 200 failed attempts reported", r)
	}
}

// Issue 11 item 5: one source cannot lock accounts, however many guesses
// its bucket allows; its own guessing at an account is stopped all the same.
func TestOneSourceCannotLockAnAccount(t *testing.T) {
	p := DefaultPolicy
	p.SourceBurst = 1 << 20
	g, c := newGuard(t, p)
	attacker := netip.MustParseAddr("192.0.2.66")
	for _, name := range []string{"ali", "bianca"} {
		for i := 0; i < 100; i++ {
			g.Decide(name, time.Time{}, attacker, false)
		}
	}
	if g.Locked("ali", time.Time{}) || g.Locked("bianca", time.Time{}) {
		t.Fatal("one address locked the accounts for everybody")
	}
	c.t = c.t.Add(p.MaxDelay)
	for _, name := range []string{"ali", "bianca"} {
		if r := g.Decide(name, time.Time{}, ip, true); !r.Granted || r.Failed != 100 {
			t.Fatalf("%s from her own address: %+v, want granted, 100 failed attempts reported", name, r)
		}
		if g.Decide(name, time.Time{}, attacker, true).Granted {
			t.Fatalf("the guessing address itself is not stopped on %s", name)
		}
	}
}

// Issue 11 item 6: the per-source bucket is taken before the passcode is
// checked, so a parallel burst cannot overdraw it.
func TestReserveIsAtomic(t *testing.T) {
	g, _ := newGuard(t, DefaultPolicy)
	var ok atomic.Int32
	var wg sync.WaitGroup
	for i := 0; i < 64; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if g.Reserve(ip) {
				ok.Add(1)
				g.Decide(fmt.Sprint("u", i), time.Time{}, ip, false)
			}
		}()
	}
	wg.Wait()
	if got := int(ok.Load()); got != DefaultPolicy.SourceBurst {
		t.Fatalf("%d of 64 parallel attempts reserved, want %d", got, DefaultPolicy.SourceBurst)
	}
	// An attempt never checked is given back.
	g.Release(ip)
	if !g.Reserve(ip) || g.Reserve(ip) {
		t.Fatal("Release did not give back exactly one attempt")
	}
	// A correct passcode gives its attempt back.
	g2, _ := newGuard(t, DefaultPolicy)
	for i := 0; i < 100; i++ {
		if !g2.Reserve(ip) {
			t.Fatalf("successful login %d refused by the bucket", i)
		}
		g2.Decide("ali", time.Time{}, ip, true)
	}
}

func TestSourceBucket(t *testing.T) {
	p := DefaultPolicy
	p.SourceBurst, p.SourceRefill = 3, 10*time.Second
	g, c := newGuard(t, p)
	for i := 0; i < 3; i++ {
		if !g.Reserve(ip) {
			t.Fatalf("blocked after %d failures", i)
		}
		g.Decide("u"+string(rune('a'+i)), time.Time{}, ip, false)
	}
	if g.Reserve(ip) {
		t.Fatal("not blocked after the burst")
	}
	if !g.Reserve(netip.MustParseAddr("127.0.0.3")) {
		t.Fatal("another address is blocked")
	}
	c.t = c.t.Add(10 * time.Second)
	if !g.Reserve(ip) {
		t.Fatal("bucket did not refill")
	}
}

// Issue 11 item 9: IPv6 sources count by /64.
func TestIPv6SourcesGroupedBy64(t *testing.T) {
	p := DefaultPolicy
	p.SourceBurst = 3
	g, _ := newGuard(t, p)
	for i := 1; i <= 3; i++ {
		if !g.Reserve(netip.MustParseAddr(fmt.Sprintf("2001:db8:1:2::%x", i*0x1111))) {
			t.Fatalf("attempt %d refused", i)
		}
	}
	if g.Reserve(netip.MustParseAddr("2001:db8:1:2:ffff:ffff:ffff:ffff")) {
		t.Fatal("another address in the same /64 has its own bucket")
	}
	if !g.Reserve(netip.MustParseAddr("2001:db8:1:3::1")) {
		t.Fatal("the next /64 is blocked too")
	}
	for in, want := range map[string]string{
		"192.0.2.7": "192.0.2.7/32", "::ffff:192.0.2.7": "192.0.2.7/32",
		"2001:db8::1": "2001:db8::/64", "fe80::1%eth0": "fe80::/64",
	} {
		if got := Source(netip.MustParseAddr(in)).String(); got != want {
			t.Errorf("Source(%s) = %s, want %s", in, got, want)
		}
	}
}

func TestUnlockClearsEverything(t *testing.T) {
	g, c := newGuard(t, DefaultPolicy)
	for i := 0; i < 30; i++ {
		g.Decide("ali", time.Time{}, ip, false)
		g.Decide("ali", time.Time{}, fresh(i), false)
	}
	c.t = c.t.Add(time.Second)
	unlocked := c.t
	c.t = c.t.Add(time.Second)
	if g.Locked("ali", unlocked) {
		t.Fatal("locked after unlock")
	}
	if !g.Decide("ali", unlocked, ip, true).Granted {
		t.Fatal("refused after unlock")
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
		g.Reserve(ip)
		g.Decide("ali", time.Time{}, fresh(i), false)
		g.Decide("bianca", time.Time{}, ip, false)
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
	if a, _ := g.Lookup("ali"); a != func() Account { b, _ := g2.Lookup("ali"); return b }() {
		t.Fatalf("account record changed in restart: %+v", a)
	}
	c.t = c.t.Add(time.Minute) // inside the 5 min lock
	if g2.Decide("bianca", time.Time{}, ip, true).Granted {
		t.Fatal("the lock of bianca's guessing address was lost in restart")
	}
	if r := g2.Decide("bianca", time.Time{}, netip.MustParseAddr("127.0.0.3"), true); !r.Granted || r.Failed != 12 {
		t.Fatalf("bianca from another address: %+v, want granted, 12 failed attempts", r)
	}
	g2.mu.Lock()
	tokens := g2.sources[Source(ip)].Tokens
	g2.mu.Unlock()
	if tokens > float64(DefaultPolicy.SourceBurst-12)+float64(time.Minute/DefaultPolicy.SourceRefill)+2 {
		t.Fatalf("source bucket lost in restart: %v tokens", tokens)
	}
}

func TestReadsCountersOfEarlierVersions(t *testing.T) {
	path := filepath.Join(t.TempDir(), "failures")
	old := "# pi2pi-server failure counters: account NAME FAILURES LAST-NS | source IP TOKENS AT-NS\n" +
		"account ali 7 1700000000000000000\nsource 127.0.0.2 3.000 1700000000000000000\n"
	if err := os.WriteFile(path, []byte(old), 0o600); err != nil {
		t.Fatal(err)
	}
	accounts, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if a := accounts["ali"]; a == nil || a.Failures != 7 {
		t.Fatalf("ali = %+v", a)
	}
}

func TestTableIsBoundedAndKeepsKnownUsers(t *testing.T) {
	p := DefaultPolicy
	p.MaxTracked, p.SourceBurst = 10, 1<<30
	g, _ := newGuard(t, p)
	g.known = func(n string) bool { return n == "ali" }
	for i := 0; i < 10; i++ {
		g.Decide("ali", time.Time{}, fresh(i), false)
	}
	for i := 0; i < 100; i++ {
		g.Decide(string(rune('a'+i%26))+string(rune('a'+i/26)), time.Time{}, fresh(i), false)
	}
	if len(g.accounts) > p.MaxTracked || len(g.pairs) > p.MaxTracked {
		t.Fatalf("%d accounts, %d pairs tracked, max %d", len(g.accounts), len(g.pairs), p.MaxTracked)
	}
	if !g.Locked("ali", time.Time{}) {
		t.Fatal("flooding unknown names evicted a real user's lock")
	}
}

// Records whose failures are all forgiven leave the table and the file;
// an account keeps its record while it has failed attempts to report.
func TestForgivenRecordsArePruned(t *testing.T) {
	p := DefaultPolicy
	g, c := newGuard(t, p)
	for i := 0; i < 3; i++ {
		g.Decide("ali", time.Time{}, fresh(i), false)
	}
	c.t = c.t.Add(time.Duration(p.LockAfter) * p.FailureDecay)
	snap := string(g.snapshot())
	if strings.Contains(snap, "\npair ") || !strings.Contains(snap, "\naccount ali 0 0 0 0 0 3\n") {
		t.Fatalf("after full decay the file holds:\n%s", snap)
	}
	if r := g.Decide("ali", time.Time{}, ip, true); !r.Granted || r.Failed != 3 {
		t.Fatalf("login after decay: %+v, want 3 failed attempts reported", r)
	}
	if snap := string(g.snapshot()); strings.Contains(snap, "\naccount ") {
		t.Fatalf("after the report the file still holds:\n%s", snap)
	}
}

func TestStatusForUserList(t *testing.T) {
	p := DefaultPolicy
	g, c := newGuard(t, p)
	status := func() string { a, _ := g.Lookup("ali"); return Status(&a, p, time.Time{}, c.t) }
	if s := Status(nil, p, time.Time{}, c.t); s != "ok" {
		t.Errorf("no record: %q", s)
	}
	g.Decide("ali", time.Time{}, ip, false)
	if s := status(); !strings.HasPrefix(s, "1 failures (last ") || !strings.Contains(s, "1 failed attempts since the last login") {
		t.Errorf("one failure: %q", s)
	}
	for i := 0; i < 20; i++ {
		g.Decide("ali", time.Time{}, fresh(i), false)
	}
	if s := status(); !strings.HasPrefix(s, "locked until ") {
		t.Errorf("locked: %q", s)
	}
	unlocked := c.t.Add(time.Second)
	a, _ := g.Lookup("ali")
	if s := Status(&a, p, unlocked, unlocked); s != "ok" {
		t.Errorf("after unlock: %q", s)
	}
}
