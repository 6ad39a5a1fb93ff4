package guard

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"time"

	"github.com/pi2pi/pi2pi/server/statefile"
)

// evictAccounts makes room for one record when the table is full, dropping
// records of unknown user IDs first, then ones that are not locked.
func (g *Guard) evictAccounts() {
	if g.policy.MaxTracked <= 0 || len(g.accounts) < g.policy.MaxTracked {
		return
	}
	now := g.now()
	var fallback string
	scanned := 0
	for name, a := range g.accounts {
		if !g.known(name) {
			delete(g.accounts, name)
			return
		}
		if !a.locked(now) && fallback == "" {
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

// evictPairs makes room for one account-source record, dropping one that
// holds no lock if it finds one soon, else any.
func (g *Guard) evictPairs() {
	if g.policy.MaxTracked <= 0 || len(g.pairs) < g.policy.MaxTracked {
		return
	}
	now := g.now()
	var victim pairKey
	scanned := 0
	for k, r := range g.pairs {
		victim = k
		if !r.locked(now) || !g.known(k.name) {
			delete(g.pairs, k)
			return
		}
		if scanned++; scanned > 256 {
			break
		}
	}
	delete(g.pairs, victim)
}

func (g *Guard) evictSources(now time.Time) {
	if g.policy.MaxTracked <= 0 || len(g.sources) < g.policy.MaxTracked {
		return
	}
	for src, b := range g.sources {
		g.refill(b, now)
		if b.Tokens >= float64(g.policy.SourceBurst) {
			delete(g.sources, src)
		}
	}
	for src := range g.sources {
		if len(g.sources) < g.policy.MaxTracked {
			break
		}
		delete(g.sources, src)
	}
}

// Status describes an account for `user list` at time now.
func Status(a *Account, p Policy, unlocked, now time.Time) string {
	if a == nil || (!unlocked.IsZero() && !a.Last.After(unlocked)) {
		return "ok"
	}
	seen := ""
	if a.Unseen > 0 {
		seen = fmt.Sprintf(", %d failed attempts since the last login", a.Unseen)
	}
	if a.locked(now) {
		return fmt.Sprintf("locked until %s (lock %d, last failure %s%s)",
			a.Until.Format(time.RFC3339), a.Locks, a.Last.Format(time.RFC3339), seen)
	}
	if a.Failures == 0 {
		return "ok" + seen
	}
	return fmt.Sprintf("%d failures (last %s%s)", a.Failures, a.Last.Format(time.RFC3339), seen)
}

const fileHeader = "# pi2pi-server failure counters:\n" +
	"# account NAME FAILURES LAST-NS SINCE-NS LOCKS UNTIL-NS UNSEEN\n" +
	"# pair NAME SOURCE FAILURES LAST-NS SINCE-NS LOCKS UNTIL-NS\n" +
	"# source SOURCE TOKENS AT-NS\n"

func appendRecord(b *bytes.Buffer, r *Record) {
	fmt.Fprintf(b, " %d %d %d %d %d", r.Failures, unixNano(r.Last), unixNano(r.Since), r.Locks, unixNano(r.Until))
}

// unixNano writes the zero time as 0, and fromUnixNano reads it back.
func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromUnixNano(ns int64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns)
}

// prune forgets the records that no longer hold anything: all failures
// forgiven, no lock running, nothing to report. Callers hold g.mu.
func (g *Guard) prune(now time.Time) {
	for n, a := range g.accounts {
		g.decay(&a.Record, now)
		if a.Failures == 0 && a.Unseen == 0 && !a.locked(now) {
			delete(g.accounts, n)
		}
	}
	for k, r := range g.pairs {
		g.decay(r, now)
		if r.Failures == 0 && !r.locked(now) {
			delete(g.pairs, k)
		}
	}
}

func (g *Guard) snapshot() []byte {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.prune(g.now())
	var b bytes.Buffer
	b.WriteString(fileHeader)
	names := make([]string, 0, len(g.accounts))
	for n := range g.accounts {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		a := g.accounts[n]
		fmt.Fprintf(&b, "account %s", n)
		appendRecord(&b, &a.Record)
		fmt.Fprintf(&b, " %d\n", a.Unseen)
	}
	for k, r := range g.pairs {
		fmt.Fprintf(&b, "pair %s %s", k.name, k.src)
		appendRecord(&b, r)
		b.WriteByte('\n')
	}
	for src, s := range g.sources {
		fmt.Fprintf(&b, "source %s %s %d\n", src, strconv.FormatFloat(s.Tokens, 'f', 3, 64), s.At.UnixNano())
	}
	return b.Bytes()
}

type state struct {
	accounts map[string]*Account
	pairs    map[pairKey]*Record
	sources  map[netip.Prefix]*bucket
}

// ReadFile reads the account records of a counters file; a missing file
// holds none.
func ReadFile(path string) (map[string]*Account, error) {
	st, err := readState(path)
	if err != nil {
		return nil, err
	}
	return st.accounts, nil
}

func parseInts(f []string) ([]int64, error) {
	out := make([]int64, len(f))
	for i, s := range f {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("bad number %q", s)
		}
		out[i] = v
	}
	return out, nil
}

// parseRecord reads FAILURES LAST-NS SINCE-NS LOCKS UNTIL-NS.
func parseRecord(f []string) (Record, error) {
	v, err := parseInts(f)
	if err != nil {
		return Record{}, err
	}
	return Record{Failures: int(v[0]), Last: fromUnixNano(v[1]), Since: fromUnixNano(v[2]),
		Locks: int(v[3]), Until: fromUnixNano(v[4])}, nil
}

// parseSource reads a source: a prefix, or an address as written by
// earlier versions.
func parseSource(s string) (netip.Prefix, error) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked(), nil
	}
	ip, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, errors.New("bad address")
	}
	return Source(ip), nil
}

func (st *state) record(f []string) error {
	switch {
	case f[0] == "account" && len(f) == 8:
		r, err := parseRecord(f[2:7])
		if err != nil {
			return err
		}
		unseen, err := strconv.Atoi(f[7])
		if err != nil {
			return errors.New("bad count")
		}
		st.accounts[f[1]] = &Account{Record: r, Unseen: unseen}
	case f[0] == "account" && len(f) == 4: // earlier versions: NAME FAILURES LAST-NS
		v, err := parseInts(f[2:4])
		if err != nil {
			return err
		}
		last := time.Unix(0, v[1])
		st.accounts[f[1]] = &Account{Record: Record{Failures: int(v[0]), Last: last, Since: last}}
	case f[0] == "pair" && len(f) == 8:
		src, err := parseSource(f[2])
		if err != nil {
			return err
		}
		r, err := parseRecord(f[3:8])
		if err != nil {
			return err
		}
		st.pairs[pairKey{f[1], src}] = &r
	case f[0] == "source" && len(f) == 4:
		src, err := parseSource(f[1])
		if err != nil {
			return err
		}
		t, err := strconv.ParseFloat(f[2], 64)
		if err != nil {
			return errors.New("bad tokens")
		}
		ns, err := strconv.ParseInt(f[3], 10, 64)
		if err != nil {
			return errors.New("bad time")
		}
		st.sources[src] = &bucket{Tokens: t, At: time.Unix(0, ns)}
	default:
		return fmt.Errorf("unknown record %q with %d fields", f[0], len(f))
	}
	return nil
}

func readState(path string) (*state, error) {
	st := &state{accounts: map[string]*Account{}, pairs: map[pairKey]*Record{}, sources: map[netip.Prefix]*bucket{}}
	data, err := statefile.Read(path)
	if err != nil {
		return nil, err
	}
	if err := statefile.Records(data, 0, st.record); err != nil {
		return nil, fmt.Errorf("failure counters %s: %w (fix or remove the file)", path, err)
	}
	return st, nil
}
