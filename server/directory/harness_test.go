package directory

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"net/netip"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pi2pi/pi2pi/internal/credential"
	"github.com/pi2pi/pi2pi/internal/testbin"
	"github.com/pi2pi/pi2pi/internal/transport"
	"github.com/pi2pi/pi2pi/internal/wire"
	"github.com/pi2pi/pi2pi/server/guard"
	"github.com/pi2pi/pi2pi/server/netserve"
	"github.com/pi2pi/pi2pi/server/sessions"
	"github.com/pi2pi/pi2pi/server/userstore"
)

// fakeClock is a settable clock for guard and sessions.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// passcodes of the test users (keypad digits).
var passcodes = map[string]string{"ali": "1234", "bianca": "5678"}

type harness struct {
	t        testing.TB
	addr     string
	mode     transport.Mode
	dir      *Directory
	users    *userstore.Store
	guard    *guard.Guard
	sessions *sessions.Table
	srv      *netserve.Server
	logs     *testbin.Buffer
	clock    *fakeClock
	stateDir string
	usersTxt string
	pepper   []byte
	cancel   context.CancelFunc
	done     chan error
}

type harnessOpts struct {
	mode    transport.Mode
	limits  *netserve.Limits
	policy  *guard.Policy
	timeout time.Duration
	dir     string // reuse a state directory (restart)
	clock   *fakeClock
}

// cheapParams keep unit tests fast where argon2 cost is not the point;
// the enumeration tests use DefaultParams.
var cheapParams = userstore.Params{Memory: userstore.DefaultParams.Memory, Time: userstore.DefaultParams.Time, Threads: 1}

// startServer runs a directory on 127.0.0.1 with users ali and bianca.
func startServer(t testing.TB, o harnessOpts) *harness {
	t.Helper()
	if o.mode == "" {
		o.mode = transport.Plain
	}
	h := &harness{t: t, mode: o.mode, logs: &testbin.Buffer{}, clock: o.clock, stateDir: o.dir}
	if h.clock == nil {
		h.clock = &fakeClock{t: time.Now()}
	}
	if h.stateDir == "" {
		h.stateDir = t.TempDir()
	}
	h.usersTxt = filepath.Join(h.stateDir, "users")
	pepper, err := userstore.LoadOrCreatePepper(h.stateDir)
	if err != nil {
		t.Fatal(err)
	}
	h.pepper = pepper
	hasher := userstore.NewHasher(pepper, cheapParams, 2)
	if o.dir == "" {
		for name, digits := range passcodes {
			h.addUser(hasher, name, digits)
		}
	}
	h.users, err = userstore.Open(h.usersTxt)
	if err != nil {
		t.Fatal(err)
	}
	policy := guard.DefaultPolicy
	if o.policy != nil {
		policy = *o.policy
	}
	h.guard, err = guard.New(guard.Options{Policy: policy, Path: filepath.Join(h.stateDir, "failures"), Now: h.clock.Now,
		Known: func(n string) bool { _, ok := h.users.Lookup(n); return ok }})
	if err != nil {
		t.Fatal(err)
	}
	timeout := o.timeout
	if timeout == 0 {
		timeout = 15 * time.Minute
	}
	h.sessions, err = sessions.Open(sessions.Options{Path: filepath.Join(h.stateDir, "sessions"), Timeout: timeout, Now: h.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	h.dir, err = New(Config{Users: h.users, Hasher: hasher, Guard: h.guard, Sessions: h.sessions, Log: log, Plain: o.mode == transport.Plain})
	if err != nil {
		t.Fatal(err)
	}
	tc := &transport.Config{Mode: o.mode}
	if o.mode == transport.Secure {
		id, err := transport.LoadOrCreateIdentity(filepath.Join(h.stateDir, "identity.key"))
		if err != nil {
			t.Fatal(err)
		}
		tc.Identity = id
	}
	limits := netserve.DefaultLimits
	if o.limits != nil {
		limits = *o.limits
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h.addr = l.Addr().String()
	h.srv = &netserve.Server{Transport: tc, Handler: h.dir, Limits: limits, Log: log}
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	h.done = make(chan error, 1)
	go func() { h.done <- h.srv.Serve(ctx, l) }()
	t.Cleanup(func() {
		h.stop()
		for _, digits := range passcodes {
			if strings.Contains(h.logs.String(), digits) && strings.Contains(h.logs.String(), "passcode="+digits) {
				t.Errorf("a passcode appears in the log")
			}
		}
		for name, digits := range passcodes {
			if strings.Contains(h.logs.String(), credential.FromDigits(name, []byte(digits))) {
				t.Errorf("a credential appears in the log")
			}
		}
	})
	return h
}

// stop shuts the server down and writes its state, as on SIGTERM.
func (h *harness) stop() {
	if h.cancel == nil {
		return
	}
	h.cancel()
	<-h.done
	h.cancel = nil
	h.guard.Close()
	h.sessions.Close()
}

func (h *harness) addUser(hasher *userstore.Hasher, name, digits string) {
	h.t.Helper()
	phc, err := hasher.Hash(context.Background(), credential.FromDigits(name, []byte(digits)))
	if err != nil {
		h.t.Fatal(err)
	}
	err = userstore.Edit(h.usersTxt, func(u map[string]userstore.User) error {
		u[name] = userstore.User{Name: name, Hash: phc}
		return nil
	})
	if err != nil {
		h.t.Fatal(err)
	}
}

// terminal is a client at one loopback address with one identity.
type terminal struct {
	h  *harness
	tc *transport.Config
	ip netip.Addr
}

func (h *harness) terminal(ip string) *terminal {
	tc := &transport.Config{Mode: h.mode, LocalIP: netip.MustParseAddr(ip)}
	if h.mode == transport.Secure {
		id, err := transport.GenerateIdentity()
		if err != nil {
			h.t.Fatal(err)
		}
		tc.Identity = id
	}
	return &terminal{h: h, tc: tc, ip: tc.LocalIP}
}

func (tm *terminal) dial() *transport.Conn {
	tm.h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var verify transport.VerifyFunc
	if tm.h.mode == transport.Secure {
		verify = transport.PinKey(tm.h.srv.Transport.Identity.Public)
	}
	c, err := tm.tc.Dial(ctx, tm.h.addr, verify)
	if err != nil {
		tm.h.t.Fatalf("dial: %v", err)
	}
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	return c
}

// exchange sends m on a fresh connection and returns the raw reply.
func (tm *terminal) exchange(m wire.Message) []byte {
	tm.h.t.Helper()
	c := tm.dial()
	defer c.Close()
	if err := wire.Write(c, m); err != nil {
		tm.h.t.Fatal(err)
	}
	raw, err := wire.NewDecoder(c).Next()
	if err != nil {
		tm.h.t.Fatalf("%s: no reply: %v", m.Type, err)
	}
	return bytes.Clone(raw)
}

func (tm *terminal) send(m wire.Message) wire.Message {
	tm.h.t.Helper()
	r, err := wire.Unmarshal(tm.exchange(m))
	if err != nil {
		tm.h.t.Fatal(err)
	}
	return r
}

func (tm *terminal) login(user, digits string) wire.Message {
	return tm.send(wire.Message{Type: wire.AuthReq, UserID: user, Passcode: credential.FromDigits(user, []byte(digits))})
}

func (tm *terminal) lookup(user, target string) wire.Message {
	return tm.send(wire.Message{Type: wire.LookupReq, UserID: user, Lookup: target})
}

func credentialOf(user string) string {
	return credential.FromDigits(user, []byte(passcodes[user]))
}
