package backend

import (
	"context"

	"github.com/pi2pi/pi2pi/daemon/terminal"
	"github.com/pi2pi/pi2pi/internal/control"
	"github.com/pi2pi/pi2pi/internal/transport"
	"github.com/pi2pi/pi2pi/internal/wire"
)

// verify answers `pi2pictl verify USER` and, with accept, `... --accept`.
//
// During a chat with USER it gives the chat's safety code (bound to its
// TLS session) and the key actually on the wire. Outside a chat there is
// no session, so no safety code: it gives the two long-term fingerprints
// (ours, and the one the directory holds for USER), which people can
// compare in full. With accept it records that key as USER's accepted
// key, which ends the key-change warnings.
func (t *Terminal) verify(userID string, accept bool) control.Reply {
	target, err := wire.NormalizeUserID(userID)
	if err != nil {
		return fail(control.CodeUsage, "bad user ID: %v", err)
	}
	if t.opt.Transport.Mode != transport.Secure {
		return fail(control.CodeState, "there are no keys to compare in plain mode: safety codes need --security secure")
	}
	s, self, peer := t.m.State()
	if s == terminal.LoggedOut || s == terminal.ReadingPasscode || s == terminal.Authenticating {
		return stateError(s, self, peer)
	}
	ours := t.opt.Transport.Identity.Public
	rep := control.Reply{Peer: target}
	t.mu.Lock()
	ch := t.chat
	t.mu.Unlock()
	var key []byte
	if ch != nil && ch.peer == target && ch.peerKey != nil {
		key = ch.peerKey // the key actually on the wire
		rep.SafetyCode = ch.safety
	} else {
		ctx, cancel := context.WithTimeout(t.ctx, t.opt.Timeout)
		e, err := t.opt.Directory.Lookup(ctx, self, target)
		cancel()
		if err != nil {
			return dirError(err, "looking up "+target)
		}
		if e.Key == nil {
			return fail(control.CodeState, "the server holds no key for %s (is %s's terminal in plain mode?)", target, target)
		}
		key = e.Key
	}
	if accept {
		if err := t.keys.accept(target, key); err != nil {
			return fail(control.CodeInternal, "cannot record %s's key: %v", target, err)
		}
		t.log.Info("peer key accepted", "PEER", target, "fingerprint", transport.Fingerprint(key))
	}
	rep.Warning = t.keys.peek(target, key)
	rep.Status = &control.Status{Fingerprint: transport.Fingerprint(ours), PeerFingerprint: transport.Fingerprint(key), Peer: target, SafetyCode: rep.SafetyCode}
	return rep
}
