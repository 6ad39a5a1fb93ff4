package backend

import (
	"context"
	"errors"

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
func (t *Terminal) verify(userID string, accept bool) (control.Reply, error) {
	target, err := wire.NormalizeUserID(userID)
	if err != nil {
		return control.Reply{}, control.Refusal(control.CodeBadUserID, "", err)
	}
	if t.opt.Transport.Mode != transport.Secure {
		return control.Reply{}, control.Refusal(control.CodePlainMode, "", nil)
	}
	snap := t.m.Snapshot()
	s, self, ch := snap.State, snap.User, snap.Chat
	if s == terminal.LoggedOut || s == terminal.ReadingPasscode || s == terminal.Authenticating {
		return control.Reply{}, stateError(s, self, snap.Peer)
	}
	ours := t.opt.Transport.Identity.Public
	rep := control.Reply{Peer: target}
	var key []byte
	if ch != nil && ch.peer == target && ch.peerKey != nil {
		key = ch.peerKey // the key actually on the wire
		rep.SafetyCode = ch.safety
	} else {
		ctx, cancel := context.WithTimeout(t.ctx, t.opt.Timeout)
		e, err := t.opt.Directory.Lookup(ctx, self, target)
		cancel()
		if err != nil {
			return control.Reply{}, dirError(err, target)
		}
		if e.Key == nil {
			return control.Reply{}, control.Refusal(control.CodeNoKey, target, nil)
		}
		key = e.Key
	}
	if accept {
		if err := t.keys.accept(target, key); errors.Is(err, errNoKeyBook) {
			return control.Reply{}, control.Refusal(control.CodeNoKeyBook, target, nil)
		} else if err != nil {
			return control.Reply{}, control.Refusal(control.CodeInternal, target, err)
		}
		t.log.Info("peer key accepted", "PEER", target, "fingerprint", transport.Fingerprint(key))
	}
	rep.PeerFingerprint = transport.Fingerprint(key)
	w := t.keys.peek(target, key)
	rep.OldFingerprint, rep.Warning, rep.WarningDetail = w.old, w.code, w.detail
	rep.Status = &control.Status{Fingerprint: transport.Fingerprint(ours), PeerFingerprint: rep.PeerFingerprint, Peer: target, SafetyCode: rep.SafetyCode}
	return rep, nil
}
