// Package directory is the pi2pi directory: it answers AUTHREQ against the
// user store, keeps the logged_in table, and answers LOOKUPREQ and the
// LOGOUTREQ extension, following the course handouts' algorithm with the hardening of
// docs/design.md (the two security modes).
//
// Every AUTHREQ with a well-formed user ID costs exactly one argon2
// computation (against a dummy hash for unknown users) and one state-file
// commit, and every refusal is the same bytes, so neither the reply nor its
// timing tells an unknown user from a wrong passcode or a locked account.
package directory

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"github.com/pi2pi/pi2pi/internal/journalslog"
	"log/slog"
	"net/netip"
	"strconv"
	"time"

	"github.com/pi2pi/pi2pi/internal/transport"
	"github.com/pi2pi/pi2pi/internal/wire"
	"github.com/pi2pi/pi2pi/server/guard"
	"github.com/pi2pi/pi2pi/server/netserve"
	"github.com/pi2pi/pi2pi/server/sessions"
	"github.com/pi2pi/pi2pi/server/userstore"
)

// Refusals that a client causes before any passcode check (one per
// request, unbounded) are logged remoteLogBurst at once, then one every
// remoteLogRefill; the next line counts those dropped ("suppressed").
// Checked attempts are logged each: the guard bounds them.
const (
	remoteLogBurst  = 20
	remoteLogRefill = 2 * time.Second
)

// Directory is the request handler of pi2pi-server serve.
type Directory struct {
	users    *userstore.Store
	hasher   *userstore.Hasher
	guard    *guard.Guard
	sessions *sessions.Table
	log      *slog.Logger
	// remoteLog is log at a bounded rate, for refusals that anyone on
	// the network can cause one per request.
	remoteLog *slog.Logger
	hashWait  time.Duration
	dummy     string // PHC hash checked for unknown users
	plain     bool   // hand out the users file's key strings in LOOKUPREPLY
}

// Config holds the parts of a Directory.
type Config struct {
	Users    *userstore.Store
	Hasher   *userstore.Hasher
	Guard    *guard.Guard
	Sessions *sessions.Table
	Log      *slog.Logger
	// HashWait bounds the wait for an argon2 slot; past it the connection
	// is closed without an answer (the server is overloaded). 0: 30 s.
	HashWait time.Duration
	// Plain is set in plain mode: a LOOKUPREPLY then carries the looked-up
	// user's key string from the users file in encryptionkey, as the
	// seeds' server does. Otherwise it carries the terminal's public key,
	// and the key strings are never handed out.
	Plain bool
}

// New returns a Directory. It computes the dummy hash used for unknown
// users, with the same parameters as real ones.
func New(cfg Config) (*Directory, error) {
	d := &Directory{
		users: cfg.Users, hasher: cfg.Hasher, guard: cfg.Guard, sessions: cfg.Sessions,
		log: cfg.Log, hashWait: cfg.HashWait, plain: cfg.Plain,
	}
	if d.log == nil {
		d.log = slog.New(slog.DiscardHandler)
	}
	d.remoteLog = journalslog.Limited(d.log, remoteLogBurst, remoteLogRefill)
	if d.hashWait <= 0 {
		d.hashWait = 30 * time.Second
	}
	random := make([]byte, 16)
	if _, err := rand.Read(random); err != nil {
		return nil, err
	}
	h, err := d.hasher.Hash(context.Background(), hex.EncodeToString(random))
	if err != nil {
		return nil, err
	}
	d.dummy = h
	return d, nil
}

// Handle implements netserve.Handler.
func (d *Directory) Handle(ctx context.Context, p netserve.Peer, m wire.Message) (wire.Message, bool) {
	switch m.Type {
	case wire.AuthReq:
		return d.auth(ctx, p, m)
	case wire.LookupReq:
		return d.lookup(p, m), true
	case wire.LogoutReq:
		return d.logout(p, m), true
	}
	return wire.Message{}, false
}

// Reload re-reads the users file and drops the sessions of deleted users.
// Sessions of the remaining users are kept.
func (d *Directory) Reload() error {
	n, err := d.users.Reload()
	if err != nil {
		d.log.Error("users file not reloaded; keeping the previous users", "path", d.users.Path(), "err", err)
		return err
	}
	d.afterReload(n)
	return nil
}

func (d *Directory) afterReload(n int) {
	dropped := d.sessions.Retain(func(u string) bool { _, ok := d.users.Lookup(u); return ok })
	d.log.Info("users file loaded", "path", d.users.Path(), "users", n, "sessions_dropped", dropped)
}

func (d *Directory) reloadIfChanged() {
	reloaded, err := d.users.ReloadIfChanged()
	if err != nil {
		d.log.Error("users file changed but cannot be read; keeping the previous users", "path", d.users.Path(), "err", err)
		return
	}
	if reloaded {
		d.afterReload(d.users.Len())
	}
}

// Sweep drops timed-out sessions every interval until ctx ends.
func (d *Directory) Sweep(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if n := d.sessions.Sweep(); n > 0 {
				d.log.Info("logged out inactive users", "count", n)
			}
		}
	}
}

func keyField(k []byte) string {
	if len(k) == 0 {
		return ""
	}
	return transport.Fingerprint(k)
}

func (d *Directory) auth(ctx context.Context, p netserve.Peer, m wire.Message) (wire.Message, bool) {
	refused := wire.Message{Type: wire.AuthReply, Status: wire.Refused}
	if m.HasInvalid() {
		d.remoteLog.Info("login refused: malformed request", "remote_ip", p.IP.String(), "bad_fields", m.Invalid)
		return refused, true
	}
	name, err := wire.NormalizeUserID(m.UserID)
	if err != nil {
		d.remoteLog.Info("login refused: invalid user ID", "remote_ip", p.IP.String(), "err", err)
		return refused, true
	}
	// The refusal never echoes the user ID: it is the same bytes for an
	// unknown user, a wrong passcode and a locked account. The attempt is
	// taken from the source's bucket before the passcode is checked, so a
	// parallel burst cannot overdraw it.
	if !d.guard.Reserve(p.IP) {
		d.remoteLog.Warn("login refused: too many failures from this address", "user", name, "remote_ip", p.IP.String())
		return refused, true
	}
	d.reloadIfChanged()
	u, known := d.users.Lookup(name)
	phc := d.dummy
	if known {
		phc = u.Hash
	}
	hctx, cancel := context.WithTimeout(ctx, d.hashWait)
	match, err := d.hasher.Verify(hctx, phc, m.Passcode)
	cancel()
	if errors.Is(err, userstore.ErrBusy) {
		d.guard.Release(p.IP)
		d.remoteLog.Warn("closing connection: too many logins waiting for argon2", "remote_ip", p.IP.String())
		return wire.Message{}, false
	}
	if err != nil {
		d.log.Error("stored hash is malformed; fix it with `pi2pi-server user passwd`", "user", name, "err", err)
	}
	correct := known && match && err == nil && m.Passcode != ""
	res := d.guard.Decide(name, u.Unlocked, p.IP, correct)
	// Commit on every attempt, changed or not, so that the time to answer
	// does not tell a correct passcode on a locked account from a wrong one.
	if err := d.guard.Save(); err != nil {
		d.log.Error("failure counters not saved", "err", err)
	}
	if !res.Granted {
		reason := "wrong passcode"
		switch {
		case !known:
			reason = "unknown user"
		case correct:
			reason = "locked or throttled after failures"
		}
		if d.guard.Locked(name, u.Unlocked) {
			reason += "; account locked"
		}
		d.log.Info("login refused", "user", name, "remote_ip", p.IP.String(), "reason", reason)
		return refused, true
	}
	d.sessions.Login(name, p.IP, p.Key)
	if err := d.sessions.Save(); err != nil {
		d.log.Error("logged_in table not saved", "err", err)
	}
	d.log.Info("login granted", "user", name, "remote_ip", p.IP.String(), "key", keyField(p.Key), "failed_attempts", res.Failed)
	reply := wire.Message{Type: wire.AuthReply, UserID: name, Status: wire.Granted}
	if res.Failed > 0 {
		reply.FailedAttempts = strconv.Itoa(res.Failed)
	}
	return reply, true
}

func (d *Directory) lookup(p netserve.Peer, m wire.Message) wire.Message {
	notFound := wire.Message{Type: wire.LookupReply, Status: wire.NotFound}
	if m.HasInvalid() {
		return notFound
	}
	req, err1 := wire.NormalizeUserID(m.UserID)
	target, err2 := wire.NormalizeUserID(m.Lookup)
	if err1 != nil || err2 != nil {
		return notFound
	}
	if !d.sessions.Touch(req, p.IP, p.Key) {
		d.log.Debug("lookup refused: requester not logged in from this address and key", "user", req, "remote_ip", p.IP.String())
		return notFound
	}
	s, ok := d.sessions.Get(target)
	if !ok {
		return notFound
	}
	return wire.Message{Type: wire.LookupReply, Status: wire.Success, Answer: target, Address: s.IP.String(), EncryptionKey: d.keyOf(target, s)}
}

// keyOf is the encryptionkey of a SUCCESS LOOKUPREPLY for target: in plain
// mode its key string from the users file ("" when not set), otherwise the
// public key its terminal logged in with. It is never logged.
func (d *Directory) keyOf(target string, s sessions.Session) string {
	if d.plain {
		u, _ := d.users.Lookup(target)
		return u.Key
	}
	if s.Key != nil {
		return transport.KeyString(s.Key)
	}
	return ""
}

func (d *Directory) logout(p netserve.Peer, m wire.Message) wire.Message {
	reply := wire.Message{Type: wire.LogoutReply, Status: wire.NotFound}
	if m.HasInvalid() {
		return reply
	}
	name, err := wire.NormalizeUserID(m.UserID)
	if err != nil {
		return reply
	}
	reply.UserID = name
	if !d.sessions.Logout(name, p.IP, p.Key) {
		return reply
	}
	if err := d.sessions.Save(); err != nil {
		d.log.Error("logged_in table not saved", "err", err)
	}
	d.log.Info("logged out", "user", name, "remote_ip", p.IP.String())
	reply.Status = wire.Success
	return reply
}

// LoggedIn reports whether user is logged in (for tests and status).
func (d *Directory) LoggedIn(user string) (netip.Addr, bool) {
	s, ok := d.sessions.Get(user)
	return s.IP, ok
}
