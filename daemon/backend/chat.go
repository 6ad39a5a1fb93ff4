package backend

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/pi2pi/pi2pi/daemon/controlsock"
	"github.com/pi2pi/pi2pi/daemon/directory"
	"github.com/pi2pi/pi2pi/daemon/peerlink"
	"github.com/pi2pi/pi2pi/daemon/terminal"
	"github.com/pi2pi/pi2pi/internal/control"
	"github.com/pi2pi/pi2pi/internal/transport"
	"github.com/pi2pi/pi2pi/internal/wire"
)

// peerAddr turns a directory address into HOST:PORT on the peer port.
func (t *Terminal) peerAddr(address string) string {
	if _, _, err := net.SplitHostPort(address); err == nil {
		return address
	}
	return net.JoinHostPort(address, strconv.Itoa(t.opt.PeerPort))
}

// call is the initiator's side, for OpChat: lookup, connect, CONNECTREQ,
// await the reply. The result comes once the chat started or failed. A
// logout or shutdown abandons the set-up: the machine cancels ctx (which
// also closes the peer connection), the next outcome is refused, and the
// request is refused with CodeLoggedOut (CodeStopping).
func (t *Terminal) call(c *controlsock.Conn, userID string) (control.Reply, error) {
	target, err := wire.NormalizeUserID(userID)
	if err != nil {
		return control.Reply{}, control.Refusal(control.CodeBadUserID, "", err)
	}
	setup, abandon := context.WithCancel(t.ctx)
	defer abandon()
	ctx, cancel := context.WithTimeout(setup, 3*t.opt.Timeout)
	defer cancel()
	eff, err := t.step(input{Event: terminal.EvChat, Peer: target, Cancel: abandon})
	if errors.Is(err, terminal.ErrSelf) {
		return control.Reply{}, control.Refusal(control.CodeSelf, target, nil)
	} else if err != nil {
		return control.Reply{}, refusal(err)
	}
	id := eff.SetUp
	cancelled := t.ownSetUp(c, setup, abandon)
	// failed posts the set-up's failure ev and returns why, unless the
	// set-up was abandoned (logout, shutdown) or cancelled (its client)
	// meanwhile.
	failed := func(ev terminal.Event, why error) (control.Reply, error) {
		if err := t.advance(input{Event: ev, SetUp: id}, target); err != nil {
			return control.Reply{}, err
		}
		if cancelled.Load() {
			why = control.Refusal(control.CodeChatCancelled, target, nil)
		}
		return control.Reply{}, why
	}
	self := eff.User
	lctx, lcancel := context.WithTimeout(ctx, t.opt.Timeout)
	e, err := t.opt.Directory.Lookup(lctx, self, target)
	lcancel()
	if err != nil {
		return failed(terminal.EvLookupFailed, dirError(err, target))
	}
	var verify transport.VerifyFunc
	if t.opt.Transport.Mode == transport.Secure {
		if e.Key == nil {
			return failed(terminal.EvLookupFailed, control.Refusal(control.CodeNoKey, target, nil))
		}
		verify = transport.PinKey(e.Key)
	}
	if err := t.advance(input{Event: terminal.EvFound, SetUp: id}, target); err != nil {
		return control.Reply{}, err
	}
	addr := t.peerAddr(e.Address)
	dctx, dcancel := context.WithTimeout(ctx, t.opt.Timeout)
	conn, err := t.opt.Transport.Dial(dctx, addr, verify)
	dcancel()
	if err != nil {
		if errors.Is(err, transport.ErrKeyMismatch) {
			t.log.Warn("peer presented the wrong key", "PEER", target, "err", err)
			return failed(terminal.EvUnreachable, control.Refusal(control.CodeWrongKey, target, err))
		}
		return failed(terminal.EvUnreachable, control.Refusal(control.CodeUnreachable, target, err))
	}
	if err := t.advance(input{Event: terminal.EvConnected, SetUp: id}, target); err != nil {
		conn.Close()
		return control.Reply{}, err
	}
	keys := t.keyAhead(target, conn.PeerKey()) // while the reply is awaited
	// While the reply is awaited, an abandoned set-up closes the link.
	unhook := context.AfterFunc(setup, func() { conn.Close() })
	link, err := peerlink.Request(conn, self, 2*t.opt.Timeout)
	if !unhook() || err != nil {
		conn.Close()
		var re *peerlink.RefusedError
		if errors.As(err, &re) {
			return failed(terminal.EvRefused, peerRefusal(target, re.Reason))
		}
		return failed(terminal.EvRefused, control.Refusal(control.CodeUnreachable, target, err))
	}
	if !t.startChat(c, target, control.Outgoing, conn.Raw(), link, keys, input{Event: terminal.EvAccepted, SetUp: id}) {
		return control.Reply{}, t.abandoned(target)
	}
	return control.Reply{Peer: target}, nil
}

// ownSetUp lets c cancel the chat set-up it asked for (OpCancelChat, or
// closing its connection) until setup ends: abandon ends the set-up's
// work, and the set-up posts its failure as usual. The flag it returns
// tells that c cancelled.
func (t *Terminal) ownSetUp(c *controlsock.Conn, setup context.Context, abandon func()) *atomic.Bool {
	cancelled := new(atomic.Bool)
	cancel := &setUpCancel{func() { cancelled.Store(true); abandon() }}
	t.mu.Lock()
	t.setups[c] = cancel
	t.mu.Unlock()
	go func() {
		select {
		case <-c.Done():
			cancel.f()
		case <-setup.Done():
		}
		t.mu.Lock()
		if t.setups[c] == cancel {
			delete(t.setups, c)
		}
		t.mu.Unlock()
	}()
	return cancelled
}

// cancelSetUp cancels the chat set-up c asked for, if one runs.
func (t *Terminal) cancelSetUp(c *controlsock.Conn) {
	t.mu.Lock()
	cancel := t.setups[c]
	t.mu.Unlock()
	if cancel != nil {
		cancel.f()
	}
}

// setUpCancel is a set-up's cancel, by pointer: the entry of t.setups is
// removed only by the set-up that made it.
type setUpCancel struct{ f func() }

// peerRefusal is the refusal for a REFUSED CONNECTREPLY from target. A
// reason pi2pid does not know is not passed on (peerReason).
func peerRefusal(target, reason string) error {
	switch reason {
	case wire.ReasonBusy:
		return control.Refusal(control.CodeBusy, target, nil)
	case wire.ReasonAway:
		return control.Refusal(control.CodeAway, target, nil)
	case wire.ReasonNotLoggedIn:
		return control.Refusal(control.CodeNotFound, target, nil)
	}
	if peerReason(reason) == reasonUnknown {
		return control.Refusal(control.CodeOddReason, target, nil)
	}
	return &control.Error{Code: control.CodePeerRefused, Peer: target, Detail: reason}
}

// incoming is the callee's side for one accepted connection.
func (t *Terminal) incoming(raw net.Conn) {
	handedOver := false
	defer func() {
		if !handedOver {
			raw.Close()
		}
	}()
	ctx, cancel := context.WithTimeout(t.ctx, t.opt.Timeout)
	defer cancel()
	_ = raw.SetDeadline(time.Now().Add(t.opt.Timeout))
	from := transport.AddrIP(raw.RemoteAddr())
	log := &peerLine{l: t.peerLog, from: from}
	conn, err := t.opt.Transport.Server(ctx, raw, nil)
	if err != nil {
		log.Info("peer connection failed", "err", err)
		return
	}
	in, err := peerlink.ReadRequest(conn, t.opt.Timeout)
	if err != nil {
		log.Info("bad chat request", "err", err)
		return
	}
	initiator := in.Initiator
	log.peer = initiator
	var id uint64 // the set-up, once the machine took the request
	refuse := func(reason string, verifying bool) {
		log.Info("chat request refused", "reason", reason)
		// Back to listening before the answer goes out: a caller that
		// tries again as soon as it reads REFUSED must not find us busy.
		if verifying {
			if t.advance(input{Event: terminal.EvNotVerified, SetUp: id}, initiator) != nil {
				reason = wire.ReasonNotLoggedIn // a logout abandoned the check
			}
		} else {
			// Refused before any lookup (not logged in, busy, away):
			// the request cost no lookup, so it takes no token, and a
			// caller retrying until the callee attaches is not dropped.
			t.gate.refund(from)
		}
		_ = in.Refuse(reason)
	}
	if t.waiter() == nil {
		s, _, _ := t.m.State()
		refuse(stateReason(s, wire.ReasonAway), false)
		return
	}
	eff, err := t.step(input{Event: terminal.EvConnectReq, Peer: initiator, Cancel: cancel})
	if err != nil {
		reason := wire.ReasonBusy
		if se := (*terminal.ErrState)(nil); errors.As(err, &se) {
			reason = stateReason(se.State, reason)
		}
		refuse(reason, false)
		return
	}
	id = eff.SetUp
	// The record of the caller's key is read while the caller is looked
	// up; nothing is recorded before it is verified.
	keys := t.keyAhead(initiator, conn.PeerKey())
	// The lookup's connection is closed once the answer is on its way.
	lctx, closeLookup := directory.WithDeferredClose(ctx)
	defer closeLookup()
	if reason := t.checkCaller(lctx, log, conn, eff.User, initiator); reason != "" {
		refuse(reason, true)
		return
	}
	// A verified caller gets its request's token back: the limit is for
	// requests that cost a lookup and came to nothing.
	t.gate.refund(from)
	owner := t.waiter()
	if owner == nil {
		refuse(wire.ReasonAway, true)
		return
	}
	if errors.Is(ctx.Err(), context.Canceled) {
		refuse(wire.ReasonNotLoggedIn, true) // a logout or shutdown abandoned the check
		return
	}
	handedOver = t.accept(raw, in, keys, owner, log, input{Event: terminal.EvVerified, SetUp: id})
}

// accept answers ACCEPTED to a verified caller and starts the chat with
// step (EvVerified). It reports whether the chat took raw over.
func (t *Terminal) accept(raw net.Conn, in *peerlink.Incoming, keys *keyAhead, owner *controlsock.Conn, log *peerLine, step input) bool {
	link, err := in.Accept()
	if err != nil {
		log.Info("peer left before the chat began", "err", err)
		_ = t.advance(input{Event: terminal.EvNotVerified, SetUp: step.SetUp}, in.Initiator)
		return false
	}
	t.startChat(owner, in.Initiator, control.Incoming, raw, link, keys, step)
	return true
}

// checkCaller looks the initiator up as self and checks that the request
// came from its address (and, in secure mode, with its key). It returns
// "" for a verified caller, otherwise the REFUSED reason.
func (t *Terminal) checkCaller(ctx context.Context, log *peerLine, conn *transport.Conn, self, initiator string) string {
	e, err := t.opt.Directory.Lookup(ctx, self, initiator)
	switch {
	case errors.Is(err, directory.ErrNotFound):
		return reasonNotVerified
	case err != nil:
		log.Warn("cannot verify a chat request", "err", err)
		return reasonCannotVerify
	case !sameIP(e.Address, log.from):
		log.Warn("chat request from an address other than the initiator's", "directory_address", e.Address)
		return reasonNotVerified
	case conn.Secure() && (e.Key == nil || !e.Key.Equal(conn.PeerKey())):
		log.Warn("chat request with a key other than the initiator's")
		return reasonNotVerified
	}
	return ""
}

// stateReason is the CONNECTREPLY reason for a request that found the
// terminal in state s: not logged in, busy, or, when logged in and idle,
// idle's reason.
func stateReason(s terminal.State, idle string) string {
	switch s {
	case terminal.LoggedIn:
		return idle
	case terminal.LoggedOut, terminal.ReadingPasscode, terminal.Authenticating, terminal.LoggingOut:
		return wire.ReasonNotLoggedIn
	}
	return wire.ReasonBusy
}

// peerLine logs about one peer connection, naming its address and,
// once known, the initiator: as slog.Logger.With, but the names are
// formatted only when a line is written (most requests write none).
type peerLine struct {
	l    *slog.Logger
	from netip.Addr
	peer string
}

func (p *peerLine) Info(msg string, args ...any) { p.log(slog.LevelInfo, msg, args) }
func (p *peerLine) Warn(msg string, args ...any) { p.log(slog.LevelWarn, msg, args) }

func (p *peerLine) log(level slog.Level, msg string, args []any) {
	if !p.l.Enabled(context.Background(), level) {
		return
	}
	names := []any{"from", p.from.String()}
	if p.peer != "" {
		names = append(names, "PEER", p.peer)
	}
	p.l.Log(context.Background(), level, msg, append(names, args...)...)
}

// sameIP compares a directory address (IP, or IP:port) with ip.
func sameIP(address string, ip netip.Addr) bool {
	host := address
	if h, _, err := net.SplitHostPort(address); err == nil {
		host = h
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.Unmap() == ip.Unmap()
}

// waiter returns the earliest attached control connection still open.
func (t *Terminal) waiter() *controlsock.Conn {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, c := range t.attachOrder {
		select {
		case <-c.Done():
		default:
			return c
		}
	}
	return nil
}
