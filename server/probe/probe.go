// Package probe checks any pi2pi directory server, ours or a course-style
// Python one: it sends the five requests of the course's test client
// (dummyclient.py) and then conformance checks on framing, unknown keys,
// bad fields, garbage and limits, printing one PASS, FAIL or SKIP line per
// check.
//
// A server that closes the connection cleanly right after its reply answers
// one request per connection and reads each request with a single receive,
// as the course's Python servers do (the course handouts' recv(1024)). That is
// legitimate course behaviour: against such a server the framing checks
// that need a second request on the same connection, or a request spread
// over several writes, are reported as SKIP with the reason, not as FAIL.
//
// With Course it expects the course's test server (ali is granted whatever
// the passcode; ali may look up bianca). With --user and --passcode it logs
// in as that user and looks the user up itself, so use a dedicated probe
// account: the login moves that user's binding to the probe's address.
// With neither it logs in as no real user: it sends its requests as a
// random user ID that no server knows, skips the two checks that need a
// login, and expects NOTFOUND where a login would give SUCCESS. So a probe
// of a real server records no failed login against a real user.
package probe

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/pi2pi/pi2pi/internal/credential"
	"github.com/pi2pi/pi2pi/internal/transport"
	"github.com/pi2pi/pi2pi/internal/wire"
)

// Config says what to probe and how.
type Config struct {
	Addr string
	Mode transport.Mode
	// User and Passcode (keypad digits) log in; empty User means no
	// login, or with Course the course test server's "ali" with passcode
	// "00123".
	User     string
	Passcode string
	// Credential, when set, is sent as the AUTHREQ passcode instead of the
	// pi2pi hash of Passcode (for servers enrolled with another scheme).
	Credential string
	// Lookup is the user whose lookup must succeed: "bianca" for the
	// course test server, the user itself otherwise.
	Lookup string
	// Course says the server is the course's test server: log in as ali.
	Course bool
	// Fingerprint pins the server key in secure mode; empty trusts the
	// first key seen and requires the same key on every later connection.
	Fingerprint string
	// LocalIP, when valid, is the source address of the probe's connections.
	LocalIP netip.Addr
	Timeout time.Duration // per exchange; 0 means 5 s
	Out     io.Writer
}

// Result counts the checks.
type Result struct{ Passed, Failed, Skipped int }

// closeGrace is how long the probe waits after a complete reply for the
// server to close the connection, which tells a server that answers one
// request per connection from one that waits for more.
const closeGrace = 500 * time.Millisecond

// errClosed marks an exchange that ended because the server closed the
// connection (cleanly or with a reset) before a complete reply.
var errClosed = errors.New("the server closed the connection")

// Reasons given for skipped checks.
const (
	skipOneRequest = "server answers one request per connection, as course servers do"
	skipNoLogin    = "no login without --user (a probe account) or --course (the course's test server)"
	skipOneRecv    = "server reads each request with a single receive and closed the connection on the first part, as course servers do (recv(1024))"
)

type prober struct {
	cfg   Config
	tc    *transport.Config
	mu    sync.Mutex
	seen  ed25519.PublicKey
	res   Result
	local netip.Addr
	// course: the server is taken to be the course's test server.
	course bool
	// anon: no credentials and not the course server: no login at all.
	anon bool
	// oneShot: the server closed the connection cleanly right after a
	// complete reply (one request per connection, as course servers do).
	oneShot bool
}

// Run runs every check and reports the counts. err is set only when the
// probe could not run at all (bad configuration).
func Run(ctx context.Context, cfg Config) (Result, error) {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Second
	}
	if cfg.Mode == "" {
		cfg.Mode = transport.Plain
	}
	course := cfg.Course
	if course && cfg.User != "" {
		return Result{}, errors.New("--course logs in as the course server's ali: leave out --user")
	}
	anon := !course && cfg.User == ""
	if anon {
		cfg.User, cfg.Passcode, cfg.Lookup = randomName(), "0", ""
	}
	if course {
		cfg.User, cfg.Passcode = "ali", "00123"
		if cfg.Credential == "" {
			cfg.Credential = "00123"
		}
		if cfg.Lookup == "" {
			cfg.Lookup = "bianca"
		}
	}
	user, err := wire.NormalizeUserID(cfg.User)
	if err != nil {
		return Result{}, fmt.Errorf("--user: %v", err)
	}
	cfg.User = user
	if cfg.Lookup == "" {
		cfg.Lookup = user
	}
	if cfg.Credential == "" {
		if !wire.ValidPasscode(cfg.Passcode) {
			return Result{}, errors.New("--passcode must be 1–32 digits")
		}
		cfg.Credential = credential.FromDigits(user, []byte(cfg.Passcode))
	}
	p := &prober{cfg: cfg, course: course, anon: anon, tc: &transport.Config{Mode: cfg.Mode, LocalIP: cfg.LocalIP}}
	if cfg.Mode == transport.Secure {
		id, err := transport.GenerateIdentity()
		if err != nil {
			return Result{}, err
		}
		p.tc.Identity = id
	}
	p.run(ctx)
	return p.res, nil
}

func (p *prober) report(name string, err error) {
	if err == nil {
		p.res.Passed++
		fmt.Fprintf(p.cfg.Out, "PASS  %s\n", name)
		return
	}
	p.res.Failed++
	fmt.Fprintf(p.cfg.Out, "FAIL  %s: %v\n", name, err)
}

func (p *prober) skip(name, reason string) {
	p.res.Skipped++
	fmt.Fprintf(p.cfg.Out, "SKIP  %s: %s\n", name, reason)
}

// closed wraps err with errClosed when it says that the connection ended:
// a clean end of stream or a connection-level error other than a timeout.
// Malformed replies (wire errors) are not a close.
func closed(err error) error {
	var ne net.Error
	switch {
	case errors.Is(err, io.EOF):
	case errors.As(err, &ne) && !ne.Timeout():
	default:
		return err
	}
	return fmt.Errorf("%w: %w", errClosed, err)
}

func (p *prober) verify(peer ed25519.PublicKey) error {
	if p.cfg.Fingerprint != "" {
		if got := transport.Fingerprint(peer); got != p.cfg.Fingerprint {
			return fmt.Errorf("server key %s does not match --server-fingerprint %s", got, p.cfg.Fingerprint)
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.seen == nil {
		p.seen = peer
		return nil
	}
	return transport.PinKey(p.seen)(peer)
}

func (p *prober) dial(ctx context.Context) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, p.cfg.Timeout)
	defer cancel()
	c, err := p.tc.Dial(ctx, p.cfg.Addr, p.verify)
	if err != nil {
		return nil, err
	}
	if ip := transport.AddrIP(c.LocalAddr()); ip.IsValid() {
		p.local = ip
	}
	return c, nil
}

// exchange sends each chunk of req in its own write (gap apart) and reads
// n replies.
func (p *prober) exchange(ctx context.Context, chunks [][]byte, gap time.Duration, n int) ([][]byte, error) {
	c, err := p.dial(ctx)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(p.cfg.Timeout + time.Duration(len(chunks))*gap))
	for i, ch := range chunks {
		if i > 0 {
			time.Sleep(gap)
		}
		if _, err := c.Write(ch); err != nil {
			return nil, fmt.Errorf("write: %w", closed(err))
		}
	}
	dec := wire.NewDecoder(c)
	var out [][]byte
	for len(out) < n {
		raw, err := dec.Next()
		if err != nil {
			return out, fmt.Errorf("reply %d of %d: %w", len(out)+1, n, closed(err))
		}
		out = append(out, bytes.Clone(raw))
	}
	return out, nil
}

// answerThenClose sends req in one write without a newline and reads the
// reply, then waits up to closeGrace: when the server closes the connection
// cleanly (no more bytes, no reset) it answers one request per connection,
// and p.oneShot is set.
func (p *prober) answerThenClose(ctx context.Context, req string) ([][]byte, error) {
	c, err := p.dial(ctx)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(p.cfg.Timeout))
	if _, err := io.WriteString(c, req); err != nil {
		return nil, fmt.Errorf("write: %w", closed(err))
	}
	dec := wire.NewDecoder(c)
	raw, err := dec.Next()
	if err != nil {
		return nil, fmt.Errorf("reply: %w", closed(err))
	}
	raw = bytes.Clone(raw)
	_ = c.SetReadDeadline(time.Now().Add(min(closeGrace, p.cfg.Timeout)))
	extra, err := dec.Next()
	switch {
	case err == nil:
		return nil, fmt.Errorf("one request got two replies, the second %s", extra)
	case errors.Is(err, io.EOF):
		p.oneShot = true
	}
	// Anything else (still open, a reset) leaves p.oneShot false: the
	// checks of several requests on one connection then run.
	return [][]byte{raw}, nil
}

func (p *prober) one(ctx context.Context, req string) (wire.Message, []byte, error) {
	raws, err := p.exchange(ctx, [][]byte{[]byte(req)}, 0, 1)
	if err != nil {
		return wire.Message{}, nil, err
	}
	m, err := wire.Unmarshal(raws[0])
	return m, raws[0], err
}

// expectClose sends data and expects the server to close the connection
// without answering with a JSON message.
func (p *prober) expectClose(ctx context.Context, data []byte) error {
	c, err := p.dial(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(p.cfg.Timeout))
	if _, err := c.Write(data); err != nil {
		return nil // closed while we were still writing
	}
	buf := make([]byte, 512)
	for {
		n, err := c.Read(buf)
		if n > 0 && bytes.Contains(buf[:n], []byte("msgtype")) {
			return fmt.Errorf("server answered %q instead of closing", bytes.TrimSpace(buf[:n]))
		}
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return errors.New("server kept the connection open")
			}
			return nil
		}
	}
}

func jsonReq(fields ...string) string {
	var b strings.Builder
	b.WriteByte('{')
	for i := 0; i+1 < len(fields); i += 2 {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(fields[i])
		b.Write(k)
		b.WriteByte(':')
		b.WriteString(fields[i+1]) // already JSON
	}
	b.WriteByte('}')
	return b.String()
}

func q(s string) string { b, _ := json.Marshal(s); return string(b) }

func want(m wire.Message, typ, status string) error {
	if m.Type != typ || m.Status != status {
		return fmt.Errorf("got %s %s, want %s %s", m.Type, m.Status, typ, status)
	}
	return nil
}

func (p *prober) authReq(user, cred string) string {
	return jsonReq("msgtype", q(wire.AuthReq), "userid", q(user), "passcode", q(cred))
}

func (p *prober) lookupReq(user, target string) string {
	return jsonReq("msgtype", q(wire.LookupReq), "userid", q(user), "lookup", q(target))
}

// notFoundShape checks a NOTFOUND reply's exact keys and empty fields.
func notFoundShape(raw []byte) error {
	var obj map[string]any
	if err := json.Unmarshal(raw, &obj); err != nil {
		return err
	}
	for _, k := range []string{"answer", "encryptionkey"} {
		if v, ok := obj[k]; !ok || v != "" {
			return fmt.Errorf("NOTFOUND reply %s: %q should be present and empty", raw, k)
		}
	}
	a, okA := obj["address"]
	l, okL := obj["location"]
	if !(okA && a == "" || okL && l == "") {
		return fmt.Errorf("NOTFOUND reply %s: \"address\" should be present and empty", raw)
	}
	if s, _ := obj["status"].(string); s != wire.NotFound {
		return fmt.Errorf("status %q is not the upper-case %q", s, wire.NotFound)
	}
	return nil
}

func randomName() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return "probe-nobody-" + hex.EncodeToString(b)
}

func (p *prober) run(ctx context.Context) {
	cfg := p.cfg
	nobody := randomName()
	nowhere := randomName()

	// okStatus answers a lookup of cfg.Lookup by cfg.User: without a
	// login (anon), NOTFOUND.
	okStatus := wire.Success
	if p.anon {
		okStatus = wire.NotFound
	}

	// The course test client's five requests.
	var m wire.Message
	var raw []byte
	var err error
	if p.anon {
		p.skip("course 1: AUTHREQ is GRANTED", skipNoLogin)
	} else {
		m, raw, err = p.one(ctx, p.authReq(cfg.User, cfg.Credential))
		if err == nil {
			err = want(m, wire.AuthReply, wire.Granted)
			if err == nil && !bytes.Contains(raw, []byte(`"GRANTED"`)) {
				err = fmt.Errorf("status not sent in upper case: %s", raw)
			}
		}
		p.report(fmt.Sprintf("course 1: AUTHREQ %s is GRANTED", cfg.User), err)
	}
	if cfg.Mode == transport.Secure && p.seen != nil {
		fmt.Fprintf(cfg.Out, "info  server key %s\n", transport.Fingerprint(p.seen))
	}

	m, _, err = p.one(ctx, p.authReq(nobody, cfg.Credential))
	if err == nil {
		err = want(m, wire.AuthReply, wire.Refused)
	}
	p.report("course 2: AUTHREQ of an unknown user is REFUSED", err)

	if p.anon {
		p.skip("course 3: LOOKUPREQ is SUCCESS", skipNoLogin)
	} else {
		m, _, err = p.one(ctx, p.lookupReq(cfg.User, cfg.Lookup))
		if err == nil {
			err = want(m, wire.LookupReply, wire.Success)
		}
		if err == nil {
			err = p.checkSuccess(m)
		}
		p.report(fmt.Sprintf("course 3: LOOKUPREQ %s→%s is SUCCESS", cfg.User, cfg.Lookup), err)
	}

	m, raw, err = p.one(ctx, p.lookupReq(cfg.User, nowhere))
	if err == nil {
		err = want(m, wire.LookupReply, wire.NotFound)
	}
	if err == nil {
		err = notFoundShape(raw)
	}
	p.report("course 4: LOOKUPREQ of a user not logged in is NOTFOUND, fields empty", err)

	m, _, err = p.one(ctx, p.lookupReq(nobody, cfg.Lookup))
	if err == nil {
		err = want(m, wire.LookupReply, wire.NotFound)
	}
	p.report("course 5: LOOKUPREQ from a user not logged in is NOTFOUND", err)

	// Conformance.
	good := p.lookupReq(cfg.User, cfg.Lookup)
	okReply := func(raws [][]byte, err error) error {
		if err != nil {
			return err
		}
		for _, r := range raws {
			m, err := wire.Unmarshal(r)
			if err != nil {
				return err
			}
			if err := want(m, wire.LookupReply, okStatus); err != nil {
				return err
			}
		}
		return nil
	}
	p.report("framing: a request without a newline is answered at once", okReply(p.answerThenClose(ctx, good)))
	if p.oneShot {
		fmt.Fprintf(cfg.Out, "info  the server closed the connection right after its reply: it answers one request per connection\n")
	}
	const two = "framing: two requests in one write get two replies"
	if p.oneShot {
		p.skip(two, skipOneRequest)
	} else {
		p.report(two, okReply(p.exchange(ctx, [][]byte{[]byte(good + "\n" + good + "\n")}, 0, 2)))
	}
	var split [][]byte
	full := []byte(good + "\n")
	for i := 0; i < len(full); i += 9 {
		split = append(split, full[i:min(i+9, len(full))])
	}
	const many = "framing: a request split over many writes is answered"
	raws, err := p.exchange(ctx, split, 20*time.Millisecond, 1)
	if p.oneShot && len(raws) == 0 && errors.Is(err, errClosed) {
		p.skip(many, skipOneRecv)
	} else {
		p.report(many, okReply(raws, err))
	}
	const inTurn = "framing: requests in turn on one connection are all answered"
	if p.oneShot {
		p.skip(inTurn, skipOneRequest)
	} else {
		p.report(inTurn, p.persistent(ctx, good))
	}

	extra := jsonReq("msgtype", q(wire.LookupReq), "x-probe", `{"nested":[1,"two",null]}`,
		"userid", q(cfg.User), "lookup", q(cfg.Lookup), "zz", "42")
	m, _, err = p.one(ctx, extra)
	if err == nil {
		err = want(m, wire.LookupReply, okStatus)
	}
	p.report("unknown keys are ignored", err)

	m, _, err = p.one(ctx, jsonReq("msgtype", q(wire.AuthReq), "userid", "5", "passcode", q("1")))
	if err == nil {
		err = want(m, wire.AuthReply, wire.Refused)
	}
	p.report(`bad fields: AUTHREQ with "userid": 5 is REFUSED`, err)

	m, _, err = p.one(ctx, jsonReq("msgtype", q(wire.AuthReq)))
	if err == nil {
		err = want(m, wire.AuthReply, wire.Refused)
	}
	p.report("bad fields: AUTHREQ without userid and passcode is REFUSED", err)

	m, _, err = p.one(ctx, jsonReq("msgtype", q(wire.LookupReq), "userid", q(cfg.User)))
	if err == nil {
		err = want(m, wire.LookupReply, wire.NotFound)
	}
	p.report("bad fields: LOOKUPREQ without lookup is NOTFOUND", err)

	m, _, err = p.one(ctx, p.authReq(strings.Repeat("a", 200), cfg.Credential))
	if err == nil {
		err = want(m, wire.AuthReply, wire.Refused)
	}
	p.report("limits: AUTHREQ with a 200-character userid is REFUSED", err)

	m, _, err = p.one(ctx, p.authReq("al\x1b[2Ji", cfg.Credential))
	if err == nil {
		err = want(m, wire.AuthReply, wire.Refused)
	}
	p.report("limits: AUTHREQ with control characters in userid is REFUSED", err)

	p.report("garbage: non-JSON closes the connection", p.expectClose(ctx, []byte("hello, server\n")))
	p.report("garbage: a JSON array closes the connection", p.expectClose(ctx, []byte(`["AUTHREQ","ali"]`+"\n")))
	big := []byte(`{"msgtype":"LOOKUPREQ","userid":"` + strings.Repeat("x", 64<<10) + `"}`)
	p.report("limits: a 64 KiB message closes the connection", p.expectClose(ctx, big))

	if cfg.Mode == transport.Secure {
		p.report("secure: a plain-text request is not answered", p.plainRefused(ctx, good))
	}

	m, _, err = p.one(ctx, good)
	if err == nil {
		err = want(m, wire.LookupReply, okStatus)
	}
	p.report("still serving after the bad input", err)

	if !p.course && !p.anon {
		// Our server: leave no session behind (course servers have no logout).
		_, _, _ = p.one(ctx, jsonReq("msgtype", q(wire.LogoutReq), "userid", q(cfg.User)))
	}
}

func (p *prober) checkSuccess(m wire.Message) error {
	if m.Answer != p.cfg.Lookup {
		return fmt.Errorf("answer %q, want %q", m.Answer, p.cfg.Lookup)
	}
	addr, err := netip.ParseAddr(m.Address)
	if err != nil {
		return fmt.Errorf("address %q is not an IP address", m.Address)
	}
	if p.cfg.Lookup == p.cfg.User {
		if p.local.IsValid() && addr != p.local {
			return fmt.Errorf("address %s, but we logged in from %s", addr, p.local)
		}
		if p.cfg.Mode == transport.Secure && m.EncryptionKey != transport.KeyString(p.tc.Identity.Public) {
			return fmt.Errorf("encryptionkey %q is not the key we logged in with", m.EncryptionKey)
		}
	}
	return nil
}

func (p *prober) persistent(ctx context.Context, req string) error {
	c, err := p.dial(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(p.cfg.Timeout))
	dec := wire.NewDecoder(c)
	for i := 0; i < 3; i++ {
		if _, err := io.WriteString(c, req+"\n"); err != nil {
			return fmt.Errorf("request %d: %w", i+1, err)
		}
		raw, err := dec.Next()
		if err != nil {
			return fmt.Errorf("reply %d: %w", i+1, err)
		}
		if m, err := wire.Unmarshal(raw); err != nil || m.Type != wire.LookupReply {
			return fmt.Errorf("reply %d: %s", i+1, raw)
		}
	}
	return nil
}

// plainRefused sends a clear-text request to a secure server.
func (p *prober) plainRefused(ctx context.Context, req string) error {
	d := net.Dialer{Timeout: p.cfg.Timeout}
	if p.cfg.LocalIP.IsValid() {
		d.LocalAddr = &net.TCPAddr{IP: p.cfg.LocalIP.AsSlice()}
	}
	c, err := d.DialContext(ctx, "tcp", p.cfg.Addr)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(p.cfg.Timeout))
	if _, err := io.WriteString(c, req+"\n"); err != nil {
		return nil
	}
	b, err := io.ReadAll(c)
	if bytes.Contains(b, []byte("msgtype")) {
		return fmt.Errorf("secure server answered in clear text: %q", b)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return errors.New("server kept the plain connection open")
	}
	return nil
}
