package e2e

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"net"
	"net/netip"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pi2pi/pi2pi/internal/transport"
	"github.com/pi2pi/pi2pi/internal/wire"
)

// fakeDirectory is a directory server written for the test: it speaks the
// protocol (internal/wire) over secure transport with a key of its own, as
// pi2pi-server does, checks credentials and binds each login to its address
// and key, and answers lookups truthfully, except where it has been told to
// lie: then it hands out another key for a user.
type fakeDirectory struct {
	t     testing.TB
	ln    net.Listener
	cfg   *transport.Config
	creds map[string]string // user → credential

	mu     sync.Mutex
	logins map[string]fakeLogin
	lies   map[[2]string]ed25519.PublicKey // (requester, target) → key handed out
	wg     sync.WaitGroup
	conns  map[net.Conn]bool
}

type fakeLogin struct {
	ip  netip.Addr
	key ed25519.PublicKey
}

// startFakeDirectory serves users (with their passcodes from the table) on a
// free loopback port.
func startFakeDirectory(t testing.TB, users ...string) *fakeDirectory {
	t.Helper()
	id, err := transport.GenerateIdentity()
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	d := &fakeDirectory{
		t:      t,
		ln:     ln,
		cfg:    &transport.Config{Mode: transport.Secure, Identity: id},
		creds:  map[string]string{},
		logins: map[string]fakeLogin{},
		lies:   map[[2]string]ed25519.PublicKey{},
		conns:  map[net.Conn]bool{},
	}
	for _, u := range users {
		d.creds[u] = credentialOf(u)
	}
	d.wg.Add(1)
	go d.serve()
	t.Cleanup(func() {
		ln.Close()
		d.mu.Lock()
		for c := range d.conns {
			c.Close()
		}
		d.mu.Unlock()
		d.wg.Wait()
	})
	return d
}

// asServer lets startTerminal use the fake directory.
func (d *fakeDirectory) asServer() *server {
	return &server{t: d.t, mode: "secure", addr: d.ln.Addr().String()}
}

// lie makes the directory answer requester's lookups of target with key.
func (d *fakeDirectory) lie(requester, target string, key ed25519.PublicKey) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.lies[[2]string{requester, target}] = key
}

func (d *fakeDirectory) serve() {
	defer d.wg.Done()
	for {
		raw, err := d.ln.Accept()
		if err != nil {
			return
		}
		d.mu.Lock()
		d.conns[raw] = true
		d.mu.Unlock()
		d.wg.Add(1)
		go func() {
			defer d.wg.Done()
			defer func() {
				d.mu.Lock()
				delete(d.conns, raw)
				d.mu.Unlock()
				raw.Close()
			}()
			d.handle(raw)
		}()
	}
}

// handle answers the requests of one connection, as many as come.
func (d *fakeDirectory) handle(raw net.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := d.cfg.Server(ctx, raw, nil)
	if err != nil {
		return
	}
	dec := wire.NewDecoder(c)
	for {
		_ = c.SetDeadline(time.Now().Add(time.Minute))
		m, err := dec.Decode()
		if err != nil {
			return
		}
		if err := wire.Write(c, d.answer(m, c.RemoteIP(), c.PeerKey())); err != nil {
			return
		}
	}
}

// answer is the directory's logic: pi2pi-server's rules, plus the lies.
func (d *fakeDirectory) answer(m wire.Message, ip netip.Addr, key ed25519.PublicKey) wire.Message {
	d.mu.Lock()
	defer d.mu.Unlock()
	switch m.Type {
	case wire.AuthReq:
		if want, ok := d.creds[m.UserID]; ok && want == m.Passcode {
			d.logins[m.UserID] = fakeLogin{ip: ip, key: key}
			return wire.Message{Type: wire.AuthReply, UserID: m.UserID, Status: wire.Granted}
		}
		return wire.Message{Type: wire.AuthReply, Status: wire.Refused}
	case wire.LookupReq:
		me, ok := d.logins[m.UserID]
		target, found := d.logins[m.Lookup]
		if !ok || me.ip != ip || !me.key.Equal(key) || !found {
			return wire.Message{Type: wire.LookupReply, Status: wire.NotFound}
		}
		handed := target.key
		if k, ok := d.lies[[2]string{m.UserID, m.Lookup}]; ok {
			handed = k
		}
		return wire.Message{Type: wire.LookupReply, Status: wire.Success, Answer: m.Lookup,
			Address: target.ip.String(), EncryptionKey: transport.KeyString(handed)}
	case wire.LogoutReq:
		if me, ok := d.logins[m.UserID]; ok && me.ip == ip && me.key.Equal(key) {
			delete(d.logins, m.UserID)
			return wire.Message{Type: wire.LogoutReply, UserID: m.UserID, Status: wire.Success}
		}
		return wire.Message{Type: wire.LogoutReply, UserID: m.UserID, Status: wire.NotFound}
	}
	return wire.Message{Type: wire.AuthReply, Status: wire.Refused}
}

var safetyCodeRE = regexp.MustCompile(`Safety code: (\d{4} \d{4} \d{4} \d{4} \d{4})`)

// safetyCode returns the code a chat session showed.
func safetyCode(t testing.TB, who, stdout string) string {
	t.Helper()
	m := safetyCodeRE.FindStringSubmatch(stdout)
	if m == nil {
		t.Fatalf("%s saw no safety code:\n%s", who, stdout)
	}
	return m[1]
}

// chatThrough runs one chat from one terminal to the other, each side
// saying a line, and returns both sessions' standard output and error.
func chatThrough(t testing.TB, from, to *terminal, hello, reply string) (fromOut, fromErr, toOut, toErr string) {
	t.Helper()
	in := to.answer()
	out := from.call(to.user)
	in.expect(received(from.user))
	out.say(hello)
	in.expect(hello)
	in.say(reply)
	out.expect(reply)
	out.hangUp()
	in.expect(ended)
	fromOut, toOut = out.finish(), in.finish()
	return fromOut, out.p.Stderr(), toOut, in.p.Stderr()
}

// clearText returns all the clear text a man-in-the-middle proxy read.
func clearText(t testing.TB, px *proxy) []byte {
	t.Helper()
	if err := px.settle(stepTimeout); err != nil {
		t.Fatal(err)
	}
	var all []byte
	for _, r := range px.recordings() {
		up, down, _ := r.snapshot()
		all = append(append(all, up...), down...)
	}
	return all
}

// TestLyingDirectory: a directory that hands each of two users a
// man-in-the-middle's key for the other, with the man in the middle on the
// path to the callee.
//
//   - Control: through the same directory telling the truth (and the same
//     proxy only relaying bytes), both users see the same safety code, the
//     one of their two real keys.
//   - The lie, between users who chatted before: every pin check passes and
//     the chat goes through the man in the middle, who reads it. The two
//     safety codes differ (each is computed with the man in the middle's
//     key), and both users get a key-change warning.
//   - The lie, between users who never chatted: the chat goes through the
//     man in the middle and no warning appears. Only comparing the safety
//     codes by voice reveals him: this is the case secure mode does not
//     protect against (docs/security.md §4.1).
func TestLyingDirectory(t *testing.T) {
	t.Parallel()
	dir := startFakeDirectory(t, "ali", "bianca", "carol", "dave")
	srv := dir.asServer()
	ali := startTerminal(t, srv)
	bianca := startTerminal(t, srv, listenPort(8086))
	toBianca := startProxy(t, bianca.ip+":8085", bianca.listenAddr())
	ali.login("ali")
	bianca.login("bianca")
	mitmKey := toBianca.id.Public

	t.Run("honest directory", func(t *testing.T) {
		aOut, aErr, bOut, bErr := chatThrough(t, ali, bianca, "Hello, are you there?", "Yes, here I am!")
		aCode, bCode := safetyCode(t, "ali", aOut), safetyCode(t, "bianca", bOut)
		if aCode != bCode {
			t.Errorf("honest directory: ali sees %s, bianca sees %s; want the same code", aCode, bCode)
		}
		if strings.Contains(aErr+bErr, "Warning") {
			t.Errorf("a first chat warned:\n%s%s", aErr, bErr)
		}
		if text := clearText(t, toBianca); bytes.Contains(text, []byte("are you there")) {
			t.Errorf("the relay read the chat from an honest run")
		}
	})

	t.Run("lie after an honest chat", func(t *testing.T) {
		dir.lie("ali", "bianca", mitmKey)
		dir.lie("bianca", "ali", mitmKey)
		toBianca.setMITM(true)
		toBianca.forget()
		const hello, reply = "Meet me at the usual place at nine", "I will bring the documents"
		aOut, aErr, bOut, bErr := chatThrough(t, ali, bianca, hello, reply)

		// The chat went through the man in the middle, who read it.
		text := clearText(t, toBianca)
		for _, line := range []string{hello, reply} {
			if !bytes.Contains(text, []byte(line)) {
				t.Errorf("the man in the middle did not read %q; did the chat go through him?", line)
			}
		}
		// Each side's code belongs to its own TLS session, one of the
		// man in the middle's two.
		aCode, bCode := safetyCode(t, "ali", aOut), safetyCode(t, "bianca", bOut)
		if aCode == bCode {
			t.Fatalf("ali and bianca both see %s: comparing codes would not catch the man in the middle", aCode)
		}
		// Having chatted before, both are warned that the key changed.
		for who, stderr := range map[string]string{"ali": aErr, "bianca": bErr} {
			if !strings.Contains(stderr, "Warning:") || !strings.Contains(stderr, "key has changed") {
				t.Errorf("%s got no key-change warning:\n%s", who, stderr)
			}
		}
		t.Logf("ali sees %s, bianca sees %s", aCode, bCode)

		// A second chat through him warns again: the new key was not
		// accepted (issue 11: the warning used to be shown once).
		toBianca.forget()
		_, aErr, _, bErr = chatThrough(t, ali, bianca, "Are you still there?", "Still here")
		for who, stderr := range map[string]string{"ali": aErr, "bianca": bErr} {
			if !strings.Contains(stderr, "key has changed") || !strings.Contains(stderr, "--accept") {
				t.Errorf("%s's second chat through the man in the middle did not warn:\n%s", who, stderr)
			}
		}
		// ali accepts the key she is shown: her chats warn no more.
		out, errOut, code := ali.ctl("", "verify", "bianca", "--accept")
		if code != 0 || !strings.Contains(out, "Accepted") {
			t.Fatalf("verify --accept: exit %d\n%s%s", code, out, errOut)
		}
		toBianca.forget()
		_, aErr, _, bErr = chatThrough(t, ali, bianca, "One more", "Fine")
		if strings.Contains(aErr, "Warning") {
			t.Errorf("ali accepted the key and is still warned:\n%s", aErr)
		}
		if !strings.Contains(bErr, "key has changed") {
			t.Errorf("bianca, who accepted nothing, is no longer warned:\n%s", bErr)
		}
	})

	t.Run("lie to a new pair", func(t *testing.T) {
		carol := startTerminal(t, srv)
		dave := startTerminal(t, srv, listenPort(8086))
		toDave := startProxy(t, dave.ip+":8085", dave.listenAddr())
		toDave.setMITM(true)
		carol.login("carol")
		dave.login("dave")
		dir.lie("carol", "dave", toDave.id.Public)
		dir.lie("dave", "carol", toDave.id.Public)
		const hello, reply = "The code word is marmalade", "Understood, marmalade it is"
		cOut, cErr, dOut, dErr := chatThrough(t, carol, dave, hello, reply)

		text := clearText(t, toDave)
		if !bytes.Contains(text, []byte(hello)) || !bytes.Contains(text, []byte(reply)) {
			t.Errorf("the man in the middle did not read the chat; did it go through him?")
		}
		// No warning: nothing on the screens tells carol and dave.
		if strings.Contains(cErr+dErr, "Warning") {
			t.Errorf("a first chat warned:\n%s%s", cErr, dErr)
		}
		// Only the codes, compared by voice, differ.
		cCode, dCode := safetyCode(t, "carol", cOut), safetyCode(t, "dave", dOut)
		if cCode == dCode {
			t.Fatalf("carol and dave both see %s", cCode)
		}
	})

	// The same man in the middle, with the directory honest again, is
	// refused: he can only read chats when the directory lies for him
	// (e2e: TestMITMPeerHop is the full version of this check).
	t.Run("honest directory refuses the man in the middle", func(t *testing.T) {
		dir.mu.Lock()
		clear(dir.lies)
		dir.mu.Unlock()
		toBianca.forget()
		if out := ali.refusedCall("bianca"); strings.Contains(out, established) {
			t.Fatalf("ali chatted through the man in the middle with an honest directory:\n%s", out)
		}
		if text := clearText(t, toBianca); bytes.Contains(text, []byte("msgtype")) {
			t.Errorf("the man in the middle read a request from ali: %.200q", text)
		}
	})
}
