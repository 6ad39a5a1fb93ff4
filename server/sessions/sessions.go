// Package sessions is pi2pi-server's logged_in table: user ID → source IP,
// public key (secure mode) and time of last activity. A user is dropped
// after a period without requests. The table is kept in a state file:
// logins and logouts are on disk before they are answered, activity times
// are written within seconds.
package sessions

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/pi2pi/pi2pi/internal/transport"
	"github.com/pi2pi/pi2pi/server/statefile"
)

// Session is one logged-in user.
type Session struct {
	User string
	IP   netip.Addr
	Key  ed25519.PublicKey // nil for a plain-mode login
	Last time.Time
}

// entry is the compact in-memory form (about 80 bytes a user).
type entry struct {
	ip     netip.Addr
	key    [ed25519.PublicKeySize]byte
	hasKey bool
	last   int64 // unix ns
}

func (e *entry) matches(ip netip.Addr, key ed25519.PublicKey) bool {
	if e.ip != ip {
		return false
	}
	if !e.hasKey {
		return len(key) == 0
	}
	return len(key) == ed25519.PublicKeySize && bytes.Equal(e.key[:], key)
}

// Table is the logged_in table. It is safe for concurrent use.
type Table struct {
	timeout time.Duration
	now     func() time.Time

	mu sync.Mutex
	m  map[string]entry
	w  *statefile.Writer
}

// Options configure Open.
type Options struct {
	// Path of the state file; empty keeps the table in memory only.
	Path string
	// Timeout drops a user after this long without a request (0: never).
	Timeout time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Open loads the table from opts.Path when it exists.
func Open(opts Options) (*Table, error) {
	t := &Table{timeout: opts.Timeout, now: opts.Now, m: map[string]entry{}}
	if t.now == nil {
		t.now = time.Now
	}
	if opts.Path != "" {
		data, err := statefile.Read(opts.Path)
		if err != nil {
			return nil, err
		}
		if err := statefile.Records(data, 4, t.record); err != nil {
			return nil, fmt.Errorf("sessions file %s: %w (fix or remove it; users will log in again)", opts.Path, err)
		}
		t.w = statefile.New(opts.Path, 5*time.Second, t.snapshot)
	}
	return t, nil
}

// Close writes the table and stops the background writer.
func (t *Table) Close() error { return t.w.Close() }

// Save blocks until every change so far is on disk.
func (t *Table) Save() error { return t.w.Save() }

func (t *Table) expired(e entry, now time.Time) bool {
	return t.timeout > 0 && now.UnixNano()-e.last > int64(t.timeout)
}

// Login records user at ip with key (nil in plain mode), replacing any
// earlier login of that user. Call Save before answering GRANTED.
func (t *Table) Login(user string, ip netip.Addr, key ed25519.PublicKey) {
	e := entry{ip: ip, last: t.now().UnixNano()}
	if len(key) == ed25519.PublicKeySize {
		copy(e.key[:], key)
		e.hasKey = true
	}
	t.mu.Lock()
	t.m[user] = e
	t.mu.Unlock()
}

// Logout removes user if it is logged in from ip with key. It reports
// whether it did.
func (t *Table) Logout(user string, ip netip.Addr, key ed25519.PublicKey) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	e, ok := t.m[user]
	if !ok || !e.matches(ip, key) {
		return false
	}
	delete(t.m, user)
	return true
}

// Touch records activity by user from ip with key. It reports whether user
// is logged in from exactly there (and not timed out).
func (t *Table) Touch(user string, ip netip.Addr, key ed25519.PublicKey) bool {
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	e, ok := t.m[user]
	if !ok || !e.matches(ip, key) {
		return false
	}
	if t.expired(e, now) {
		delete(t.m, user)
		t.w.MarkDirty()
		return false
	}
	e.last = now.UnixNano()
	t.m[user] = e
	t.w.MarkDirty()
	return true
}

// Get returns the live session of user.
func (t *Table) Get(user string) (Session, bool) {
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	e, ok := t.m[user]
	if !ok || t.expired(e, now) {
		return Session{}, false
	}
	s := Session{User: user, IP: e.ip, Last: time.Unix(0, e.last)}
	if e.hasKey {
		s.Key = ed25519.PublicKey(bytes.Clone(e.key[:]))
	}
	return s, true
}

// Sweep drops timed-out users and returns how many it dropped.
func (t *Table) Sweep() int {
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for u, e := range t.m {
		if t.expired(e, now) {
			delete(t.m, u)
			n++
		}
	}
	if n > 0 {
		t.w.MarkDirty()
	}
	return n
}

// Retain drops the sessions of users for which keep returns false (users
// deleted from the users file).
func (t *Table) Retain(keep func(user string) bool) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for u := range t.m {
		if !keep(u) {
			delete(t.m, u)
			n++
		}
	}
	if n > 0 {
		t.w.MarkDirty()
	}
	return n
}

// Len returns the number of entries, timed out or not.
func (t *Table) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.m)
}

// snapshot encodes the table: one "USER IP KEY|- LAST-NS" line per user.
func (t *Table) snapshot() []byte {
	t.mu.Lock()
	users := make([]string, 0, len(t.m))
	for u := range t.m {
		users = append(users, u)
	}
	sort.Strings(users)
	var b bytes.Buffer
	b.Grow(len(users)*100 + 64)
	b.WriteString("# pi2pi-server logged_in: USER IP KEY LAST-NS\n")
	for _, u := range users {
		e := t.m[u]
		key := "-"
		if e.hasKey {
			key = transport.KeyString(e.key[:])
		}
		b.WriteString(u)
		b.WriteByte(' ')
		b.WriteString(e.ip.String())
		b.WriteByte(' ')
		b.WriteString(key)
		b.WriteByte(' ')
		b.WriteString(strconv.FormatInt(e.last, 10))
		b.WriteByte('\n')
	}
	t.mu.Unlock()
	return b.Bytes()
}

// record adds one "USER IP KEY|- LAST-NS" line of the state file.
func (t *Table) record(f []string) error {
	ip, err := netip.ParseAddr(f[1])
	if err != nil {
		return errors.New("bad address")
	}
	last, err := strconv.ParseInt(f[3], 10, 64)
	if err != nil {
		return errors.New("bad time")
	}
	e := entry{ip: ip, last: last}
	if f[2] != "-" {
		k, err := transport.ParseKeyString(f[2])
		if err != nil {
			return err
		}
		copy(e.key[:], k)
		e.hasKey = true
	}
	t.m[f[0]] = e
	return nil
}
