// Package guard limits online passcode guessing against pi2pi-server.
//
// Per account (any user ID, known or not, so that the limits cannot be used
// to tell which IDs exist): the first FreeFailures failures cost nothing;
// after that a correct passcode is only accepted once a delay has passed
// since the last failure (BaseDelay, doubling each failure, at most
// MaxDelay), and every wrong one still counts; at LockAfter failures the
// account is locked for LockBase, and every further failure after a lock
// has ended locks it again for twice as long, up to LockMax. A success does
// not reset the count: failures are forgiven one per FailureDecay without
// a failure (not counted while locked), so guesses spread out between the
// user's own logins still add up. `pi2pi-server user unlock` clears it all.
//
// Per account and source (an IPv4 address or an IPv6 /64, see Source): the
// same delays and locks, so that one source guessing at an account is
// stopped there; and one source adds at most SourceShare failures to the
// account's own count, so that one source cannot lock anyone out for
// everybody. Per source: a token bucket of SourceBurst attempts, refilled
// by one every SourceRefill; an attempt takes a token before its passcode
// is checked (Reserve) and a correct passcode gives it back, so an empty
// bucket refuses every login from that source without checking it.
//
// The user is told at login how many failed attempts there were on the
// account since the last login (Result.Failed).
//
// The counters are kept in a state file and survive restarts.
package guard

import (
	"net/netip"
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
	// FailureDecay: one failure is forgiven per FailureDecay without a
	// failure; time spent locked does not count.
	FailureDecay time.Duration
	LockBase     time.Duration // length of the first lock
	LockMax      time.Duration // locks double up to this
	// SourceShare is the number of failures one source may add to an
	// account's count; its failures beyond that count only against the
	// source's own record for that account.
	SourceShare  int
	SourceBurst  int
	SourceRefill time.Duration
	// MaxTracked bounds the number of accounts, of account-source pairs
	// and of sources tracked.
	MaxTracked int
}

// DefaultPolicy: 5 free failures, then 1, 2, 4, 8, 16 s between attempts;
// at 10 a lock of 5 min, then 10, 20, 40 min… up to a day for each further
// failure; one failure forgiven every 6 h; one source adds at most 3
// failures to an account; per source 20 failures in a burst, then one
// every 30 s (120 an hour).
var DefaultPolicy = Policy{
	FreeFailures: 5,
	BaseDelay:    time.Second,
	MaxDelay:     time.Minute,
	LockAfter:    10,
	FailureDecay: 6 * time.Hour,
	LockBase:     5 * time.Minute,
	LockMax:      24 * time.Hour,
	SourceShare:  3,
	SourceBurst:  20,
	SourceRefill: 30 * time.Second,
	MaxTracked:   100_000,
}

// Record is the failure count of an account, or of one source against an
// account.
type Record struct {
	Failures int       // counted failures, at most LockAfter
	Last     time.Time // time of the last counted failure
	Since    time.Time // failures are forgiven from here on
	Locks    int       // locks so far: the next one is twice as long
	Until    time.Time // end of the current (or last) lock
}

// Account is the record of one user ID.
type Account struct {
	Record
	// Unseen counts the failed attempts since the last granted login.
	Unseen int
}

type pairKey struct {
	name string
	src  netip.Prefix
}

type bucket struct {
	Tokens float64
	At     time.Time
}

// Result is the outcome of Decide.
type Result struct {
	Granted bool
	// Failed is, on a grant, the number of failed attempts on the account
	// since its previous granted login.
	Failed int
}

// Source returns the unit of the per-source limits: the address itself for
// IPv4 (IPv4-mapped IPv6 included), its /64 for IPv6, where one host
// usually holds a whole /64.
func Source(ip netip.Addr) netip.Prefix {
	ip = ip.Unmap()
	if ip.Is4() {
		return netip.PrefixFrom(ip, 32)
	}
	p, err := ip.WithZone("").Prefix(64)
	if err != nil {
		return netip.PrefixFrom(ip, ip.BitLen())
	}
	return p
}

// Guard tracks failures. It is safe for concurrent use.
type Guard struct {
	policy Policy
	now    func() time.Time
	known  func(name string) bool

	mu       sync.Mutex
	accounts map[string]*Account
	pairs    map[pairKey]*Record
	sources  map[netip.Prefix]*bucket
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
		pairs:    map[pairKey]*Record{},
		sources:  map[netip.Prefix]*bucket{},
	}
	if g.now == nil {
		g.now = time.Now
	}
	if g.known == nil {
		g.known = func(string) bool { return false }
	}
	if opts.Path != "" {
		st, err := readState(opts.Path)
		if err != nil {
			return nil, err
		}
		g.accounts, g.pairs, g.sources = st.accounts, st.pairs, st.sources
		for _, a := range g.accounts { // files of earlier versions counted on past LockAfter
			a.Failures = min(a.Failures, g.policy.LockAfter)
		}
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

// Reserve takes one attempt from the bucket of ip's source, before the
// passcode is checked, and reports whether there was one: false means
// refuse without checking. Decide gives the attempt back when the passcode
// was correct.
func (g *Guard) Reserve(ip netip.Addr) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	now, src := g.now(), Source(ip)
	b, ok := g.sources[src]
	if !ok {
		g.evictSources(now)
		b = &bucket{Tokens: float64(g.policy.SourceBurst), At: now}
		g.sources[src] = b
	}
	g.refill(b, now)
	if b.Tokens < 1 {
		return false
	}
	b.Tokens--
	return true
}

// Release gives back an attempt taken by Reserve whose passcode was never
// checked (the server was too busy to).
func (g *Guard) Release(ip netip.Addr) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.refund(Source(ip), g.now())
}

func (g *Guard) refund(src netip.Prefix, now time.Time) {
	if b, ok := g.sources[src]; ok {
		g.refill(b, now)
		b.Tokens = min(b.Tokens+1, float64(g.policy.SourceBurst))
	}
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

// lockLength is the length of lock number n+1.
func (g *Guard) lockLength(n int) time.Duration {
	d := g.policy.LockBase
	for i := 0; i < n && d < g.policy.LockMax; i++ {
		d *= 2
	}
	return min(d, g.policy.LockMax)
}

func (r *Record) locked(now time.Time) bool { return now.Before(r.Until) }

// decay forgives the failures due by now.
func (g *Guard) decay(r *Record, now time.Time) {
	if r.Failures == 0 || g.policy.FailureDecay <= 0 {
		return
	}
	from := r.Since
	if r.Until.After(from) {
		from = r.Until
	}
	k := int(now.Sub(from) / g.policy.FailureDecay)
	if k <= 0 {
		return
	}
	if k >= r.Failures {
		*r = Record{} // all forgiven: the escalation starts over
		return
	}
	r.Failures -= k
	r.Since = from.Add(time.Duration(k) * g.policy.FailureDecay)
}

// fail counts one failure, locking when the count reaches LockAfter.
func (g *Guard) fail(r *Record, now time.Time) {
	r.Failures = min(r.Failures+1, g.policy.LockAfter)
	r.Last, r.Since = now, now
	if r.Failures >= g.policy.LockAfter {
		r.Until = now.Add(g.lockLength(r.Locks))
		r.Locks++
	}
}

// blocks reports whether r refuses even a correct passcode now.
func (g *Guard) blocks(r *Record, now time.Time) bool {
	return r.locked(now) || now.Before(r.Last.Add(g.delay(r.Failures)))
}

// current returns the live record of name, forgetting it when the user was
// unlocked after its last failure. Callers hold g.mu.
func (g *Guard) current(name string, unlocked time.Time) *Account {
	a := g.accounts[name]
	if a != nil && !unlocked.IsZero() && !a.Last.After(unlocked) {
		delete(g.accounts, name)
		return nil
	}
	return a
}

func (g *Guard) currentPair(k pairKey, unlocked time.Time) *Record {
	r := g.pairs[k]
	if r != nil && !unlocked.IsZero() && !r.Last.After(unlocked) {
		delete(g.pairs, k)
		return nil
	}
	return r
}

// Decide records the outcome of a checked login attempt from ip, after
// Reserve: correct says whether the passcode matched. unlocked is the
// time of the user's last `user unlock`. Call Save before answering.
func (g *Guard) Decide(name string, unlocked time.Time, ip netip.Addr, correct bool) Result {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.now()
	k := pairKey{name, Source(ip)}
	a, p := g.current(name, unlocked), g.currentPair(k, unlocked)
	if a != nil {
		g.decay(&a.Record, now)
	}
	if p != nil {
		g.decay(p, now)
	}
	refused := (a != nil && g.blocks(&a.Record, now)) || (p != nil && g.blocks(p, now))
	if correct {
		g.refund(k.src, now)
		if refused {
			return Result{}
		}
		res := Result{Granted: true}
		if a != nil {
			res.Failed, a.Unseen = a.Unseen, 0
			if a.Failures == 0 {
				delete(g.accounts, name)
			}
		}
		if p != nil && p.Failures == 0 {
			delete(g.pairs, k)
		}
		return res
	}
	if a == nil {
		g.evictAccounts()
		a = &Account{}
		g.accounts[name] = a
	}
	a.Unseen++
	if p == nil {
		g.evictPairs()
		p = &Record{}
		g.pairs[k] = p
	}
	share := p.Failures
	// Failures during a lock do not count, so that nobody can make a lock
	// last longer by guessing on.
	if !p.locked(now) {
		g.fail(p, now)
	}
	if !a.locked(now) && share < g.policy.SourceShare {
		g.fail(&a.Record, now)
	}
	return Result{}
}

// Locked reports whether the account name is locked now.
func (g *Guard) Locked(name string, unlocked time.Time) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	a := g.current(name, unlocked)
	return a != nil && a.locked(g.now())
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
