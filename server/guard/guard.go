// Package guard limits online passcode guessing against pi2pi-server.
//
// Per account (any user ID, known or not, so that the limits cannot be used
// to tell which IDs exist): the first FreeFailures consecutive failures cost
// nothing; after that a correct passcode is only accepted once a delay has
// passed since the last failure (BaseDelay, doubling each failure, at most
// MaxDelay), and every wrong one still counts; after LockAfter failures the
// account is locked until `pi2pi-server user unlock`. A success resets the
// count. Per source address: a token bucket of SourceBurst failures,
// refilled by one every SourceRefill; an empty bucket refuses every login
// from that address without checking it.
//
// The counters are kept in a state file and survive restarts.
package guard

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/pi2pi/pi2pi/server/statefile"
)

// Policy holds the limits.
type Policy struct {
	FreeFailures int
	BaseDelay    time.Duration
	MaxDelay     time.Duration
	LockAfter    int
	SourceBurst  int
	SourceRefill time.Duration
	// MaxTracked bounds the number of accounts and of sources tracked.
	MaxTracked int
}

// DefaultPolicy: 5 free failures, then 1, 2, 4, 8, 16 s between attempts,
// lock at 10; per source 20 failures in a burst, then one every 30 s
// (120 an hour).
var DefaultPolicy = Policy{
	FreeFailures: 5,
	BaseDelay:    time.Second,
	MaxDelay:     time.Minute,
	LockAfter:    10,
	SourceBurst:  20,
	SourceRefill: 30 * time.Second,
	MaxTracked:   100_000,
}

// Account is the failure record of one user ID.
type Account struct {
	Failures int
	Last     time.Time // time of the last failure
}

type bucket struct {
	Tokens float64
	At     time.Time
}

// Guard tracks failures. It is safe for concurrent use.
type Guard struct {
	policy Policy
	now    func() time.Time
	known  func(name string) bool

	mu       sync.Mutex
	accounts map[string]*Account
	sources  map[netip.Addr]*bucket
	w        *statefile.Writer
}

// Options configure New.
type Options struct {
	Policy Policy
	// Path of the state file; empty keeps counters in memory only.
	Path string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Known reports whether a user ID is in the user store; when the table
	// is full, records of unknown IDs are evicted first. Nil: none known.
	Known func(name string) bool
}

// New loads the counters from opts.Path (if it exists) and returns a Guard.
func New(opts Options) (*Guard, error) {
	g := &Guard{
		policy:   opts.Policy,
		now:      opts.Now,
		known:    opts.Known,
		accounts: map[string]*Account{},
		sources:  map[netip.Addr]*bucket{},
	}
	if g.now == nil {
		g.now = time.Now
	}
	if g.known == nil {
		g.known = func(string) bool { return false }
	}
	if opts.Path != "" {
		accounts, sources, err := ReadFile(opts.Path)
		if err != nil {
			return nil, err
		}
		g.accounts, g.sources = accounts, sources
		g.w = statefile.New(opts.Path, 5*time.Second, g.snapshot)
	}
	return g, nil
}

// Close writes the counters and stops the background writer.
func (g *Guard) Close() error { return g.w.Close() }

// Save blocks until every change so far is on disk.
func (g *Guard) Save() error { return g.w.Save() }

func (g *Guard) refill(b *bucket, now time.Time) {
	if g.policy.SourceRefill > 0 && now.After(b.At) {
		b.Tokens += float64(now.Sub(b.At)) / float64(g.policy.SourceRefill)
	}
	b.Tokens = min(b.Tokens, float64(g.policy.SourceBurst))
	b.At = now
}

// SourceAllowed reports whether ip may try a login now.
func (g *Guard) SourceAllowed(ip netip.Addr) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	b, ok := g.sources[ip]
	if !ok {
		return true
	}
	g.refill(b, g.now())
	return b.Tokens >= 1
}

// delay is the wait required after n failures before a correct passcode
// counts.
func (g *Guard) delay(n int) time.Duration {
	if n < g.policy.FreeFailures {
		return 0
	}
	d := g.policy.BaseDelay
	for i := g.policy.FreeFailures; i < n && d < g.policy.MaxDelay; i++ {
		d *= 2
	}
	return min(d, g.policy.MaxDelay)
}

// current returns the live record of name, forgetting failures older than
// the user's last unlock. Callers hold g.mu.
func (g *Guard) current(name string, unlocked time.Time) *Account {
	a := g.accounts[name]
	if a != nil && !unlocked.IsZero() && !a.Last.After(unlocked) {
		delete(g.accounts, name)
		return nil
	}
	return a
}

// Decide records the outcome of a checked login attempt: correct says
// whether the passcode matched. It returns whether to grant the login and
// whether the counters changed (then call Save before answering).
func (g *Guard) Decide(name string, unlocked time.Time, ip netip.Addr, correct bool) (granted, changed bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.now()
	a := g.current(name, unlocked)
	locked := a != nil && a.Failures >= g.policy.LockAfter
	throttled := a != nil && now.Before(a.Last.Add(g.delay(a.Failures)))
	if correct {
		if locked || throttled {
			return false, false
		}
		if a != nil {
			delete(g.accounts, name)
			return true, true
		}
		return true, false
	}
	if a == nil {
		g.evictAccounts()
		a = &Account{}
		g.accounts[name] = a
	}
	a.Failures++
	a.Last = now
	b, ok := g.sources[ip]
	if !ok {
		g.evictSources(now)
		b = &bucket{Tokens: float64(g.policy.SourceBurst), At: now}
		g.sources[ip] = b
	}
	g.refill(b, now)
	b.Tokens--
	return false, true
}

// evictAccounts makes room for one record when the table is full, dropping
// records of unknown user IDs first.
func (g *Guard) evictAccounts() {
	if g.policy.MaxTracked <= 0 || len(g.accounts) < g.policy.MaxTracked {
		return
	}
	var fallback string
	scanned := 0
	for name, a := range g.accounts {
		if !g.known(name) {
			delete(g.accounts, name)
			return
		}
		if a.Failures < g.policy.LockAfter && fallback == "" {
			fallback = name
		}
		if scanned++; scanned > 256 {
			break
		}
	}
	if fallback != "" {
		delete(g.accounts, fallback)
	}
}

func (g *Guard) evictSources(now time.Time) {
	if g.policy.MaxTracked <= 0 || len(g.sources) < g.policy.MaxTracked {
		return
	}
	for ip, b := range g.sources {
		g.refill(b, now)
		if b.Tokens >= float64(g.policy.SourceBurst) {
			delete(g.sources, ip)
		}
	}
	for ip := range g.sources {
		if len(g.sources) < g.policy.MaxTracked {
			break
		}
		delete(g.sources, ip)
	}
}

// Status describes an account for `user list`.
func Status(a *Account, p Policy, unlocked time.Time) string {
	if a == nil || (!unlocked.IsZero() && !a.Last.After(unlocked)) {
		return "ok"
	}
	if a.Failures >= p.LockAfter {
		return fmt.Sprintf("locked (%d failures, last %s)", a.Failures, a.Last.Format(time.RFC3339))
	}
	return fmt.Sprintf("%d failures (last %s)", a.Failures, a.Last.Format(time.RFC3339))
}

// Locked reports whether name is locked until `user unlock`.
func (g *Guard) Locked(name string, unlocked time.Time) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	a := g.current(name, unlocked)
	return a != nil && a.Failures >= g.policy.LockAfter
}

// Lookup returns a copy of the record of name, if any.
func (g *Guard) Lookup(name string) (Account, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	a, ok := g.accounts[name]
	if !ok {
		return Account{}, false
	}
	return *a, true
}

func (g *Guard) snapshot() []byte {
	g.mu.Lock()
	defer g.mu.Unlock()
	var b bytes.Buffer
	b.WriteString("# pi2pi-server failure counters: account NAME FAILURES LAST-NS | source IP TOKENS AT-NS\n")
	names := make([]string, 0, len(g.accounts))
	for n := range g.accounts {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		a := g.accounts[n]
		fmt.Fprintf(&b, "account %s %d %d\n", n, a.Failures, a.Last.UnixNano())
	}
	for ip, s := range g.sources {
		fmt.Fprintf(&b, "source %s %s %d\n", ip, strconv.FormatFloat(s.Tokens, 'f', 3, 64), s.At.UnixNano())
	}
	return b.Bytes()
}

// ReadFile reads a counters file; a missing file holds no counters.
func ReadFile(path string) (map[string]*Account, map[netip.Addr]*bucket, error) {
	accounts := map[string]*Account{}
	sources := map[netip.Addr]*bucket{}
	data, err := statefile.Read(path)
	if err != nil {
		return nil, nil, err
	}
	if err := statefile.Records(data, 4, func(f []string) error {
		ns, err := strconv.ParseInt(f[3], 10, 64)
		if err != nil {
			return errors.New("bad time")
		}
		switch f[0] {
		case "account":
			c, err := strconv.Atoi(f[2])
			if err != nil {
				return errors.New("bad count")
			}
			accounts[f[1]] = &Account{Failures: c, Last: time.Unix(0, ns)}
		case "source":
			ip, err := netip.ParseAddr(f[1])
			if err != nil {
				return errors.New("bad address")
			}
			t, err := strconv.ParseFloat(f[2], 64)
			if err != nil {
				return errors.New("bad tokens")
			}
			sources[ip] = &bucket{Tokens: t, At: time.Unix(0, ns)}
		default:
			return fmt.Errorf("unknown record %q", f[0])
		}
		return nil
	}); err != nil {
		return nil, nil, fmt.Errorf("failure counters %s: %w (fix or remove the file)", path, err)
	}
	return accounts, sources, nil
}
