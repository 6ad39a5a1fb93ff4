// Package daemontest is a fake pi2pid for pi2pictl's tests: it speaks the
// real internal/control protocol on a Unix socket, keeps a tiny login and
// chat state, and lets a test play the remote peer (an incoming chat, a
// line from the peer, the peer ending the chat).
package daemontest

import (
	"bufio"
	"encoding/json"
	"net"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/pi2pi/pi2pi/internal/control"
)

// PeerAccepts is the behaviour of a callee that takes the chat; other
// callees refuse with an error code.
const PeerAccepts control.Code = "accepts"

// Steps of Options.Login: what the fake sends, in order, when it accepts
// a login request. As pi2pid does, the fake takes console keys only once
// it has announced that passcode entry started (LoginResult or
// LoginPasscodeEvent); a client must act on the first announcement and
// ignore any other.
const (
	// LoginResult is the OK result of the login request, naming the
	// keypad: it announces that passcode entry started.
	LoginResult = "result"
	// LoginQuietResult is the OK result naming no keypad, as pi2pid
	// sends it: passcode entry has not necessarily started yet.
	LoginQuietResult = "quiet-result"
	// LoginPasscodeEvent is the "passcode" event, naming the keypad: it
	// announces that passcode entry started.
	LoginPasscodeEvent = "passcode"
	// LoginStateEvent is the "state" event for control.StateReadingPasscode. It
	// announces nothing: the keypad may not listen yet.
	LoginStateEvent = "state"
	// LoginAwaitKey holds the steps after it until the first key press
	// arrives, and sends them before that key's result: they then reach
	// the client after it has begun sending the passcode.
	LoginAwaitKey = "await-key"
)

// Daemon is a fake pi2pid.
type Daemon struct {
	// Socket is the control socket's path.
	Socket string
	// Sent receives what the chat's data stream carried, read by read,
	// and "<end>" at its end, in order.
	Sent chan string
	// Keys receives every key meaning pressed through "key".
	Keys chan string

	t  *testing.T
	ln net.Listener

	mu        sync.Mutex
	version   int
	keypad    control.Keypad
	passcodes map[string]string // user → digits
	failed    int
	refusals  map[string]control.Code // callee → control.Code*, or PeerAccepts
	safety    string
	state     control.State
	user      string
	digits    string
	loginConn *conn
	loginReq  control.Request
	login     []string // Options.Login
	afterKey  []string // login steps held until the first key press
	listening bool     // passcode entry was announced: keys are taken
	waiter    *conn
	owner     *conn
	stream    net.Conn      // the chat's data stream, once opened
	streamUp  chan struct{} // closed once it is opened
	peer      string
	conns     map[*conn]bool
	attached  chan struct{}
	forgot    bool // the server forgot the login (Options.ServerForgot)
	cancelIn  time.Duration
	entryFor  time.Duration // Options.PasscodeTimeout
	entryEnd  *time.Timer   // ends passcode entry after entryFor without a key
	attempt   int           // counts login requests
	closed    bool          // the test ended
}

// Options configure a Daemon.
type Options struct {
	Version   int               // control protocol version to announce (default control.Version)
	Keypad    control.Keypad    // control.KeypadConsole (default), KeypadRPIO, ...
	Passcodes map[string]string // user → digits; default ali:1234, bianca:5678
	// FailedAttempts is sent with a successful login, as pi2pid passes on
	// the server's count of failed attempts since the last login.
	FailedAttempts int
	LoggedInAs     string // start logged in as this user
	SafetyCode     string // sent with chat-start (secure mode); "" for plain
	// Callees says how chat requests end, by callee: PeerAccepts or an
	// error code (control.CodeNotFound, CodeBusy, ...). Default: bianca
	// accepts, everyone else is not found.
	Callees map[string]control.Code
	// Login scripts the answer to a login request with the Login* steps,
	// in order; every request must get its result, so include LoginResult
	// or LoginQuietResult. Nil means LoginQuietResult then
	// LoginPasscodeEvent.
	Login []string
	// ServerForgot: the server no longer knows the LoggedInAs login, so
	// the first login request logs out first, as pi2pid does after its
	// check with the server (and one without a user ID stops there).
	ServerForgot bool
	// CancelDelay is how long passcode entry takes to end after the
	// Cancel key was taken (or a logout cancelled it): pi2pid answers the
	// key at once, but its login goroutine ends passcode entry, and sends
	// the "cancelled" login event, on its own time. Until then a new
	// login is refused. Zero ends it at once, right after the key's result.
	CancelDelay time.Duration
	// PasscodeTimeout, when set, ends passcode entry on its own once it
	// was announced and no key came for that long, as pi2pid does after
	// its --passcode-timeout: the state moves to control.StateLoggedOut (a state
	// event to every client) and the login event says "cancelled" with
	// pi2pid's timeout message.
	PasscodeTimeout time.Duration
}

type conn struct {
	c  net.Conn
	mu sync.Mutex
}

func (c *conn) send(r control.Reply) {
	b, _ := json.Marshal(r)
	c.mu.Lock()
	defer c.mu.Unlock()
	_ = c.c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	c.c.Write(append(b, '\n'))
}

// Start runs a fake daemon on a socket in t.TempDir until the test ends.
func Start(t *testing.T, o Options) *Daemon {
	t.Helper()
	if o.Version == 0 {
		o.Version = control.Version
	}
	if o.Keypad == "" {
		o.Keypad = control.KeypadConsole
	}
	if o.Passcodes == nil {
		o.Passcodes = map[string]string{"ali": "1234", "bianca": "5678"}
	}
	if o.Callees == nil {
		o.Callees = map[string]control.Code{"bianca": PeerAccepts}
	}
	path := filepath.Join(t.TempDir(), "control.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	d := &Daemon{
		Socket: path, Sent: make(chan string, 100), Keys: make(chan string, 100),
		t: t, ln: ln, version: o.Version, keypad: o.Keypad, passcodes: o.Passcodes, failed: o.FailedAttempts,
		refusals: o.Callees, safety: o.SafetyCode, state: control.StateLoggedOut, login: o.Login,
		conns: map[*conn]bool{}, attached: make(chan struct{}, 10), cancelIn: o.CancelDelay,
		entryFor: o.PasscodeTimeout,
	}
	if o.LoggedInAs != "" {
		d.state, d.user = control.StateLoggedIn, o.LoggedInAs
		d.forgot = o.ServerForgot
	}
	go d.accept()
	t.Cleanup(func() {
		ln.Close()
		d.mu.Lock()
		d.closed = true
		for c := range d.conns {
			c.c.Close()
		}
		d.mu.Unlock()
	})
	return d
}

func (d *Daemon) accept() {
	for {
		nc, err := d.ln.Accept()
		if err != nil {
			return
		}
		c := &conn{c: nc}
		d.mu.Lock()
		d.conns[c] = true
		d.mu.Unlock()
		go d.serve(c)
	}
}

func (d *Daemon) serve(c *conn) {
	defer func() {
		c.c.Close()
		d.mu.Lock()
		delete(d.conns, c)
		if d.waiter == c {
			d.waiter = nil
		}
		if d.owner == c { // the owner left: the chat ends
			d.owner, d.state = nil, control.StateLoggedIn
		}
		d.mu.Unlock()
	}()
	r := bufio.NewReader(c.c)
	first := true
	for {
		line, err := r.ReadBytes('\n')
		if err != nil {
			return
		}
		var req control.Request
		if err := json.Unmarshal(line, &req); err != nil {
			return
		}
		if first && req.Op == control.OpStream {
			d.serveStream(c, r, req)
			return
		}
		if first {
			first = false
			c.send(control.Reply{Type: control.TypeHello, Version: d.version, Daemon: "daemontest"})
			continue
		}
		d.handle(c, req)
	}
}

func ok(req control.Request) control.Reply {
	return control.Reply{Type: control.TypeResult, ID: req.ID, OK: true}
}

// refuse is a refusal as pi2pid sends it: a code, whom it is about, and
// no words (pi2pictl has them).
func refuse(req control.Request, e *control.Error) control.Reply {
	r := control.Refuse(e)
	r.Type, r.ID = control.TypeResult, req.ID
	return r
}

func event(name control.Event) control.Reply {
	return control.Reply{Type: control.TypeEvent, Event: name}
}

func (d *Daemon) handle(c *conn, req control.Request) {
	d.mu.Lock()
	defer d.mu.Unlock()
	switch req.Op {
	case control.OpStatus:
		rep := ok(req)
		rep.Status = &control.Status{State: d.state, UserID: d.user, Server: "127.0.0.1:8082",
			Security: "plain", Keypad: d.keypad, Listen: "127.0.0.2:8085", Peer: d.peer}
		c.send(rep)
	case control.OpLogin:
		if d.state == control.StateLoggedIn && d.forgot {
			d.forgot = false
			d.state, d.user, d.owner = control.StateLoggedOut, "", nil
			ev := event(control.EventLoggedOut)
			ev.Code = control.CodeServerForgot
			for o := range d.conns {
				o.send(ev)
			}
			if req.UserID == "" {
				rep := ok(req)
				rep.State = control.StateLoggedOut
				c.send(rep)
				return
			}
		}
		if d.state == control.StateReadingPasscode {
			c.send(refuse(req, &control.Error{Code: control.CodeLoggingIn, UserID: d.user}))
			return
		}
		if d.state != control.StateLoggedOut {
			c.send(refuse(req, &control.Error{Code: control.CodeLoggedIn, UserID: d.user}))
			return
		}
		d.state, d.user, d.digits, d.loginConn = control.StateReadingPasscode, req.UserID, "", c
		d.attempt++
		steps := d.login
		if steps == nil {
			steps = []string{LoginQuietResult, LoginPasscodeEvent}
		}
		d.afterKey, d.loginReq, d.listening = nil, req, false
		for i, step := range steps {
			if step == LoginAwaitKey {
				d.afterKey = steps[i+1:]
				break
			}
			d.loginStep(c, req, step)
		}
	case control.OpKey:
		if d.keypad != control.KeypadConsole {
			c.send(refuse(req, &control.Error{Code: control.CodeNoConsole}))
			return
		}
		if d.state != control.StateReadingPasscode {
			c.send(refuse(req, &control.Error{Code: control.CodeNoEntry}))
			return
		}
		if !d.listening {
			c.send(refuse(req, &control.Error{Code: control.CodeNoEntry}))
			return
		}
		if !req.Key.Valid() {
			c.send(refuse(req, &control.Error{Code: control.CodeUsage, Detail: "not a key meaning"}))
			return
		}
		d.Keys <- string(req.Key)
		d.armEntryTimeout()
		for _, step := range d.afterKey {
			d.loginStep(d.loginConn, d.loginReq, step)
		}
		d.afterKey = nil
		if req.Key == control.KeyCancel && d.cancelIn > 0 {
			c.send(ok(req))
			d.cancelLater()
			return
		}
		c.send(ok(req))
		switch req.Key {
		case control.KeyEnter:
			ev := event(control.EventLogin)
			if want, known := d.passcodes[d.user]; known && want == d.digits {
				d.state = control.StateLoggedIn
				ev.OK, ev.UserID, ev.FailedAttempts = true, d.user, d.failed
			} else {
				d.state, d.user = control.StateLoggedOut, ""
				ev.Code = control.CodeRefused
			}
			d.loginConn.send(ev)
		case control.KeyBackspace:
			if d.digits != "" {
				d.digits = d.digits[:len(d.digits)-1]
			}
		case control.KeyCancel:
			d.cancelLogin()
		default:
			d.digits += string(req.Key)
		}
	case control.OpLogout:
		if d.state == control.StateReadingPasscode {
			// As pi2pid: a logout cancels passcode entry, which ends
			// with the "cancelled" login event.
			c.send(ok(req))
			if d.cancelIn > 0 {
				d.cancelLater()
			} else {
				d.cancelLogin()
			}
			return
		}
		d.state, d.user, d.owner = control.StateLoggedOut, "", nil
		c.send(ok(req))
		ev := event(control.EventLoggedOut)
		for o := range d.conns {
			o.send(ev)
		}
	case control.OpWait:
		if d.state == control.StateLoggedOut {
			c.send(refuse(req, &control.Error{Code: control.CodeNotLoggedIn}))
			return
		}
		d.waiter = c
		c.send(ok(req))
		select {
		case d.attached <- struct{}{}:
		default:
		}
	case control.OpChat:
		if d.state != control.StateLoggedIn {
			c.send(refuse(req, &control.Error{Code: control.CodeNotLoggedIn}))
			return
		}
		how := d.refusals[req.UserID]
		if how == "" {
			how = control.CodeNotFound
		}
		if how != PeerAccepts {
			c.send(refuse(req, &control.Error{Code: how, Peer: req.UserID}))
			return
		}
		d.owner, d.peer, d.state = c, req.UserID, control.StateChatting
		d.stream, d.streamUp = nil, make(chan struct{})
		ev := event(control.EventChatStart)
		ev.Peer, ev.Direction, ev.SafetyCode, ev.Token = req.UserID, control.Outgoing, d.safety, fakeToken
		c.send(ev)
		c.send(ok(req))
	case control.OpVerify, control.OpAcceptKey:
		if d.safety == "" {
			c.send(refuse(req, &control.Error{Code: control.CodePlainMode}))
			return
		}
		rep := ok(req)
		rep.SafetyCode = d.safety
		rep.Status = &control.Status{Fingerprint: "SHA256:ours", PeerFingerprint: "SHA256:theirs"}
		c.send(rep)
	default:
		c.send(refuse(req, &control.Error{Code: control.CodeUsage, Detail: "unknown op " + string(req.Op)}))
	}
}

// cancelLogin ends passcode entry as cancelled and tells the client that
// asked for the login. The caller holds d.mu.
func (d *Daemon) cancelLogin() {
	if d.state != control.StateReadingPasscode || d.closed {
		return
	}
	d.state, d.user, d.listening = control.StateLoggedOut, "", false
	ev := event(control.EventLogin)
	ev.Code = control.CodeCancelled
	d.loginConn.send(ev)
}

// cancelLater calls cancelLogin after Options.CancelDelay.
func (d *Daemon) cancelLater() {
	time.AfterFunc(d.cancelIn, func() {
		d.mu.Lock()
		defer d.mu.Unlock()
		d.cancelLogin()
	})
}

// armEntryTimeout (re)starts the Options.PasscodeTimeout of the current
// passcode entry. The caller holds d.mu.
func (d *Daemon) armEntryTimeout() {
	if d.entryFor <= 0 {
		return
	}
	if d.entryEnd != nil {
		d.entryEnd.Stop()
	}
	attempt := d.attempt
	d.entryEnd = time.AfterFunc(d.entryFor, func() {
		d.mu.Lock()
		defer d.mu.Unlock()
		if d.attempt != attempt || d.state != control.StateReadingPasscode || d.closed {
			return
		}
		d.state, d.user, d.listening = control.StateLoggedOut, "", false
		st := event(control.EventState)
		st.State = control.StateLoggedOut
		for o := range d.conns {
			o.send(st)
		}
		ev := event(control.EventLogin)
		ev.Code = control.CodeTimedOut
		d.loginConn.send(ev)
	})
}

// loginStep sends one step of Options.Login to c, the connection that
// made login request req.
func (d *Daemon) loginStep(c *conn, req control.Request, step string) {
	switch step {
	case LoginResult:
		d.listening = true
		d.armEntryTimeout()
		rep := ok(req)
		rep.Keypad = d.keypad
		c.send(rep)
	case LoginQuietResult:
		c.send(ok(req))
	case LoginPasscodeEvent:
		d.listening = true
		d.armEntryTimeout()
		ev := event(control.EventPasscode)
		ev.Keypad, ev.UserID = d.keypad, req.UserID
		c.send(ev)
	case LoginStateEvent:
		ev := event(control.EventState)
		ev.State, ev.UserID = control.StateReadingPasscode, req.UserID
		c.send(ev)
	default:
		d.t.Errorf("daemontest: unknown login step %q", step)
	}
}

// AnnouncePasscode announces that passcode entry started, as pi2pid does
// once its keypad listens, to the client that asked for the login; from
// then on console keys are taken. For Options.Login scripts without an
// announcement.
func (d *Daemon) AnnouncePasscode(t *testing.T) {
	t.Helper()
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.state != control.StateReadingPasscode {
		t.Fatal("AnnouncePasscode: no login in progress")
	}
	d.loginStep(d.loginConn, d.loginReq, LoginPasscodeEvent)
}

// WaitAttached waits until a client sent "wait".
func (d *Daemon) WaitAttached(t *testing.T) {
	t.Helper()
	select {
	case <-d.attached:
	case <-time.After(10 * time.Second):
		t.Fatal("no client attached with wait")
	}
}

// Incoming hands the attached client an incoming chat from peer.
func (d *Daemon) Incoming(t *testing.T, peer string) {
	t.Helper()
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.waiter == nil {
		t.Fatal("Incoming: nobody attached")
	}
	d.owner, d.waiter, d.peer, d.state = d.waiter, nil, peer, control.StateChatting
	d.stream, d.streamUp = nil, make(chan struct{})
	ev := event(control.EventChatStart)
	ev.Peer, ev.Direction, ev.SafetyCode, ev.Token = peer, control.Incoming, d.safety, fakeToken
	d.owner.send(ev)
}

// PeerSays delivers text from the peer to the chat's owner, on the data
// stream once the owner opened it.
func (d *Daemon) PeerSays(t *testing.T, text string) {
	t.Helper()
	s := d.openedStream(t)
	_ = s.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if _, err := s.Write([]byte(text)); err != nil {
		t.Fatalf("PeerSays: %v", err)
	}
}

func (d *Daemon) openedStream(t *testing.T) net.Conn {
	t.Helper()
	d.mu.Lock()
	up := d.streamUp
	d.mu.Unlock()
	if up == nil {
		t.Fatal("no chat")
	}
	select {
	case <-up:
	case <-time.After(10 * time.Second):
		t.Fatal("the owner did not open the chat's data stream")
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.stream
}

// PeerEnds ends the chat from the peer's side: as pi2pid, it closes the
// data stream, then sends chat-end.
func (d *Daemon) PeerEnds(t *testing.T) {
	t.Helper()
	s := d.openedStream(t)
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.owner == nil {
		t.Fatal("PeerEnds: no chat")
	}
	s.Close()
	d.owner.send(event(control.EventChatEnd))
	d.owner, d.peer, d.state = nil, "", control.StateLoggedIn
}

const fakeToken = "daemontest-token"

// serveStream takes the chat's data stream: what the owner writes goes to
// Sent; at its end the chat ends, as if the peer ended at once.
func (d *Daemon) serveStream(c *conn, r *bufio.Reader, req control.Request) {
	d.mu.Lock()
	if d.owner == nil || d.stream != nil || req.Token != fakeToken {
		d.mu.Unlock()
		c.send(refuse(req, &control.Error{Code: control.CodeNoChat}))
		return
	}
	d.stream = c.c
	c.send(ok(req))
	close(d.streamUp)
	d.mu.Unlock()
	buf := make([]byte, control.StreamBuffer)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			d.Sent <- string(buf[:n])
		}
		if err != nil {
			break
		}
	}
	d.Sent <- "<end>"
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.stream == c.c && d.owner != nil {
		c.c.Close()
		d.owner.send(event(control.EventChatEnd))
		d.owner, d.peer, d.state = nil, "", control.StateLoggedIn
	}
}

// NextSent returns the next text sent in a chat ("<end>" for an end).
func (d *Daemon) NextSent(t *testing.T) string {
	t.Helper()
	select {
	case s := <-d.Sent:
		return s
	case <-time.After(10 * time.Second):
		t.Fatal("nothing was sent")
		return ""
	}
}
