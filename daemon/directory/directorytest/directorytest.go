// Package directorytest is an in-memory pi2pi-server for tests only: it
// keeps passcodes, logins and counts of failed login attempts, and hands
// each terminal a Dir, its view of the server, behind daemon/directory's
// Directory and LoginReporter interfaces.
package directorytest

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"sync"

	"github.com/pi2pi/pi2pi/daemon/directory"
	"github.com/pi2pi/pi2pi/internal/credential"
	"github.com/pi2pi/pi2pi/internal/transport"
)

// Passcodes are the users a new Server knows, with their passcodes.
var Passcodes = map[string]string{"ali": "1234", "bianca": "5678", "carol": "1111"}

// Server is an in-memory directory shared by the terminals of a test.
type Server struct {
	mu        sync.Mutex
	passcodes map[string]string
	logins    map[string]login
	failed    map[string]int // failed attempts since the last login
	authErr   error
	lookupErr error
	lookups   int
	keyFor    map[string]ed25519.PublicKey
}

type login struct {
	ip  string
	key ed25519.PublicKey
}

// NewServer returns a server that knows the users of Passcodes, none of
// them logged in.
func NewServer() *Server {
	s := &Server{passcodes: map[string]string{}, logins: map[string]login{},
		failed: map[string]int{}, keyFor: map[string]ed25519.PublicKey{}}
	for u, p := range Passcodes {
		s.passcodes[u] = p
	}
	return s
}

// Dir is the view of the server from the terminal at ip with key (nil in
// plain mode), as a real server learns them from the connection.
func (s *Server) Dir(ip string, key ed25519.PublicKey) *Dir {
	return &Dir{s: s, ip: ip, key: key}
}

// Forget drops the login of user, as a server does after a timeout or a
// restart.
func (s *Server) Forget(user string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.logins, user)
}

// Login records user as logged in from ip with key, as the server does on
// GRANTED.
func (s *Server) Login(user, ip string, key ed25519.PublicKey) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.logins[user] = login{ip, key}
}

// LoggedIn reports whether the server holds a login of user.
func (s *Server) LoggedIn(user string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.logins[user]
	return ok
}

// Lookups counts the lookups asked so far.
func (s *Server) Lookups() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lookups
}

// SetAuthErr makes logins fail with err (nil: work again).
func (s *Server) SetAuthErr(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.authErr = err
}

// SetLookupErr makes lookups fail with err (nil: work again), as an
// unreachable server does.
func (s *Server) SetLookupErr(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lookupErr = err
}

// SetKey makes lookups of user hand out key instead of the key of its
// login (an impersonation); nil undoes it.
func (s *Server) SetKey(user string, key ed25519.PublicKey) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if key == nil {
		delete(s.keyFor, user)
		return
	}
	s.keyFor[user] = key
}

// Dir is one terminal's view of a Server. It implements
// directory.Directory and directory.LoginReporter.
type Dir struct {
	s   *Server
	mu  sync.Mutex
	ip  string
	key ed25519.PublicKey
}

var (
	_ directory.Directory     = (*Dir)(nil)
	_ directory.LoginReporter = (*Dir)(nil)
)

// SetKey changes the key the terminal logs in with (a new identity).
func (d *Dir) SetKey(key ed25519.PublicKey) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.key = key
}

// Auth logs user in when cred is its passcode's credential.
func (d *Dir) Auth(ctx context.Context, user, cred string) error {
	_, err := d.Login(ctx, user, cred)
	return err
}

// Login is Auth that also says how many attempts failed since user's
// last login; a refused attempt counts as one.
func (d *Dir) Login(ctx context.Context, user, cred string) (int, error) {
	d.mu.Lock()
	ip, key := d.ip, d.key
	d.mu.Unlock()
	s := d.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.authErr != nil {
		return 0, s.authErr
	}
	want, known := s.passcodes[user]
	if !known || cred != credential.FromDigits(user, []byte(want)) {
		s.failed[user]++
		return 0, directory.ErrRefused
	}
	failed := s.failed[user]
	s.failed[user] = 0
	s.logins[user] = login{ip, key}
	return failed, nil
}

// Lookup answers where target is logged in, to a terminal logged in as
// self from this Dir's address.
func (d *Dir) Lookup(ctx context.Context, self, target string) (directory.Entry, error) {
	s := d.s
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lookups++
	if s.lookupErr != nil {
		return directory.Entry{}, s.lookupErr
	}
	me, ok := s.logins[self]
	t, ok2 := s.logins[target]
	if !ok || !ok2 || me.ip != d.ip {
		return directory.Entry{}, fmt.Errorf("%s is %w", target, directory.ErrNotFound)
	}
	key := t.key
	if k, ok := s.keyFor[target]; ok {
		key = k
	}
	e := directory.Entry{UserID: target, Address: t.ip, Key: key}
	if key != nil {
		e.KeyText = transport.KeyString(key)
	}
	return e, nil
}

// Logout drops the login of user.
func (d *Dir) Logout(ctx context.Context, user string) error {
	d.s.Forget(user)
	return nil
}
