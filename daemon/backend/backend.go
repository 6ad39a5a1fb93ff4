// Package backend is the core of pi2pid. It ties the state machine
// (daemon/terminal) to the directory client, the peer link, the keypad and
// the control clients. The machine owns the state, the current chat, the
// pending login and the keepalive: the code here does the slow work
// (keypad reads, directory requests, dials) outside its lock and posts
// each outcome as the next event (Terminal.step), then carries out the
// effects the machine returns. The machine's observer is the one place
// that tells control clients and systemd about the state.
package backend

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pi2pi/pi2pi/daemon/controlsock"
	"github.com/pi2pi/pi2pi/daemon/directory"
	"github.com/pi2pi/pi2pi/daemon/terminal"
	"github.com/pi2pi/pi2pi/internal/control"
	"github.com/pi2pi/pi2pi/internal/journalslog"
	"github.com/pi2pi/pi2pi/internal/transport"
)

// Keypad is what the terminal needs from the keypad (daemon/keypad behind
// an adapter in package main).
type Keypad interface {
	// Kind names the keypad.
	Kind() control.Keypad
	// ReadPasscode reads digits until Enter; started is called once the
	// keypad is scanning (or accepting console keys).
	ReadPasscode(ctx context.Context, started func()) ([]byte, error)
	// Press feeds what a console key press means; ErrNoConsole for
	// other keypads.
	Press(key control.Key) error
}

// ErrNoConsole is returned by Keypad.Press when the daemon has no console
// keypad.
var ErrNoConsole = errors.New("no console keypad")

// Options configure a Terminal.
type Options struct {
	Directory directory.Directory
	Transport *transport.Config // peer connections: mode, identity, source IP
	Keypad    Keypad
	PeerPort  int           // port dialled on other terminals (8085)
	Keepalive time.Duration // self-lookup interval while logged in
	Timeout   time.Duration // handshake, CONNECTREQ/REPLY and directory requests
	PeersFile string        // DIR/peers: the key last seen per user; "" keeps none
	Log       *slog.Logger
	// Status is told the state in words after every transition (systemd
	// STATUS=). It must not block.
	Status func(words string)
	// Info fills the static fields of `status`.
	Info control.Status
	// ServerPin returns the pinned server fingerprint, "" when none yet.
	ServerPin func() string

	// observe, when set (tests), sees every change after the clients.
	observe func(terminal.Change)
}

// The machine holds the current chat as its chat handle.
type (
	machine = terminal.Machine[*activeChat]
	input   = terminal.Input[*activeChat]
	effects = terminal.Effects[*activeChat]
)

// Terminal is one pi2pi terminal.
type Terminal struct {
	opt  Options
	log  *slog.Logger
	m    *machine
	keys *keyBook
	// gate admits peer connections; peerLog is t.log at a bounded
	// rate, for what strangers on the peer port cause.
	gate    *peerGate
	peerLog *slog.Logger

	ctx    context.Context // the terminal's lifetime
	cancel context.CancelFunc
	wg     sync.WaitGroup
	// wgMu orders the goroutines started by control requests and the
	// peer listener (track) before Shutdown's wait: once waiting is set,
	// none starts.
	wgMu    sync.Mutex
	waiting bool
	// stopping is set when Shutdown begins: a chat set-up it abandons is
	// refused with CodeStopping rather than CodeLoggedOut.
	stopping atomic.Bool

	// mu guards the control connections. Never hold it while calling
	// m.Step: the machine's observer takes it.
	mu          sync.Mutex
	conns       map[*controlsock.Conn]bool         // value: attached (sent wait)
	once        map[*controlsock.Conn]bool         // attached for one chat (wait with once)
	setups      map[*controlsock.Conn]*setUpCancel // the chat set-up each asked for
	attachOrder []*controlsock.Conn
}

// New returns a logged-out terminal.
func New(opt Options) *Terminal {
	if opt.Log == nil {
		opt.Log = slog.Default()
	}
	if opt.Timeout == 0 {
		opt.Timeout = 10 * time.Second
	}
	if opt.Keepalive == 0 {
		opt.Keepalive = 5 * time.Minute
	}
	if opt.PeerPort == 0 {
		opt.PeerPort = 8085
	}
	t := &Terminal{opt: opt, log: opt.Log, conns: map[*controlsock.Conn]bool{}, once: map[*controlsock.Conn]bool{},
		setups: map[*controlsock.Conn]*setUpCancel{}, keys: &keyBook{path: opt.PeersFile}}
	t.gate, t.peerLog = newPeerGate(), journalslog.Limited(opt.Log, peerLogBurst, peerLogRefill)
	t.ctx, t.cancel = context.WithCancel(context.Background())
	t.m = terminal.NewMachine[*activeChat](opt.Log, t.changed)
	return t
}

// Machine exposes the state machine (read-only use: State, Snapshot).
func (t *Terminal) Machine() *terminal.Machine[*activeChat] { return t.m }

// changed is the machine's observer: it runs under the machine's lock, in
// order, for every transition.
func (t *Terminal) changed(c terminal.Change) {
	ev := control.Reply{Event: control.EventState, State: c.To.Name(), UserID: c.UserID, Peer: c.Peer}
	t.broadcast(ev)
	if t.opt.Status != nil {
		t.opt.Status(terminal.Words(c.To, c.UserID, c.Peer))
	}
	if t.opt.observe != nil {
		t.opt.observe(c)
	}
}

func (t *Terminal) broadcast(ev control.Reply) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for c := range t.conns {
		c.Event(ev)
	}
}

// step posts one event to the machine and calls the cancels it released
// (the pending login's, the keepalive's). What else the effects ask (end a
// chat, tell the server, tell the clients) is the caller's.
func (t *Terminal) step(in input) (effects, error) {
	eff, err := t.m.Step(in)
	eff.Do()
	return eff, err
}

// outcome posts the outcome of work that only the current state started
// (a keypad read, a lookup, a dial), which the state always takes; a
// refusal here is a bug, logged loudly rather than crashing the daemon.
func (t *Terminal) outcome(in input) bool {
	if _, err := t.step(in); err != nil {
		t.log.Error("unexpected refused event", "err", err)
		return false
	}
	return true
}

// advance posts the next outcome of a chat set-up with peer. A logout or
// shutdown may have abandoned the set-up (the machine moved to
// logging-out and cancelled its work): then the outcome is refused and
// advance returns the refusal for the set-up's request.
func (t *Terminal) advance(in input, peer string) error {
	if _, err := t.step(in); err != nil {
		t.log.Info("chat set-up abandoned", "PEER", peer, "err", err)
		return t.abandoned(peer)
	}
	return nil
}

// abandoned is the refusal of a chat set-up with peer that a logout or
// shutdown abandoned.
func (t *Terminal) abandoned(peer string) error {
	if t.stopping.Load() {
		return control.Refusal(control.CodeStopping, peer, nil)
	}
	return control.Refusal(control.CodeLoggedOut, peer, nil)
}

// ServePeers accepts chat requests on l until l is closed.
func (t *Terminal) ServePeers(l net.Listener) error {
	work := make(chan peerConn) // unbuffered: only a waiting worker takes one
	var idle atomic.Int32
	for {
		raw, err := transport.Accept(l, t.log)
		if err != nil {
			return err
		}
		ip := transport.AddrIP(raw.RemoteAddr())
		if ok, why := t.gate.enter(ip); !ok {
			t.peerLog.Warn("peer connection dropped", "from", ip.String(), "reason", why)
			raw.Close()
			continue
		}
		pc := peerConn{raw, ip}
		select {
		case work <- pc:
			continue
		default:
		}
		if !t.track(func() { t.peerWorker(pc, work, &idle) }) {
			raw.Close()
			t.gate.leave(ip)
		}
	}
}

// IdlePeerWorkers is how many goroutines that served a chat request wait
// for the next one instead of ending. A new goroutine starts with a small
// stack and grows it, copying, on the callee's critical path; one that
// served a request before has the stack a request needs.
const IdlePeerWorkers = 2

type peerConn struct {
	raw net.Conn
	ip  netip.Addr
}

// peerWorker serves pc, then waits for more while fewer than
// IdlePeerWorkers wait, until the terminal ends.
func (t *Terminal) peerWorker(pc peerConn, work <-chan peerConn, idle *atomic.Int32) {
	for {
		t.incoming(pc.raw)
		t.gate.leave(pc.ip)
		if idle.Add(1) > IdlePeerWorkers {
			idle.Add(-1)
			return
		}
		select {
		case pc = <-work:
			idle.Add(-1)
		case <-t.ctx.Done():
			return
		}
	}
}

// track runs f in a goroutine that Shutdown waits for. Once Shutdown
// waits, it starts none and returns false: the caller then cleans up.
// Goroutines started from a tracked one may use t.wg directly.
func (t *Terminal) track(f func()) bool {
	t.wgMu.Lock()
	defer t.wgMu.Unlock()
	if t.waiting {
		return false
	}
	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		f()
	}()
	return true
}

// Shutdown ends any chat politely, abandons a passcode entry, logs out from
// the server and waits for the terminal's goroutines. Close the listeners
// first.
func (t *Terminal) Shutdown(ctx context.Context) {
	t.stopping.Store(true)
	// The polite close of a chat: the owner sends what it has accepted,
	// both sides close, within what is left of ctx. A chat set-up is
	// abandoned (its request refused with CodeStopping).
	budget := EndBudget
	if dl, ok := ctx.Deadline(); ok {
		budget = max(time.Until(dl)-time.Second, time.Second)
	}
	eff, err := t.takeLogout(terminal.EvShutdown, ctx, budget, control.Refusal(control.CodeStopping, "", nil))
	if err == nil && eff.Moved && eff.To == terminal.LoggingOut {
		_ = t.signOff(ctx, eff.User, 2*time.Second, control.CodeStopping) // a failure is logged
	}
	t.cancel()
	t.wgMu.Lock()
	t.waiting = true
	t.wgMu.Unlock()
	done := make(chan struct{})
	go func() { t.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		t.log.Warn("shutdown: some connections did not finish in time")
	}
}
