package backend

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/pi2pi/pi2pi/internal/control"
	"github.com/pi2pi/pi2pi/internal/transport"
	"github.com/pi2pi/pi2pi/internal/wire"
)

// keyBook remembers the key accepted for each user in DIR/peers, one
// "userid fingerprint" line each, so that a changed key can be pointed
// out. The key seen in the first chat with a user is accepted on its own
// (trust on first use); a different key later is not recorded, and every
// chat with it warns until the person accepts it (`pi2pictl verify USER
// --accept`). A peers file that cannot be read is a warning too, and so
// is a damaged one (a line that does not parse): pi2pid cannot tell what
// was lost, so it warns for every peer and writes nothing over it until
// a key is accepted, which moves the damaged file aside to
// peers.damaged-TIME (logged) and starts a new record with the lines
// that did parse.
type keyBook struct {
	path string
	log  *slog.Logger // nil: slog.Default()
	mu   sync.Mutex
}

// keyWarning is what a chat-start or verify says about a peer's key: old
// is the accepted fingerprint when the key differs from it; code
// (control.CodePeersUnreadable or CodePeersUnwritable) is a problem with
// the record, detail its cause. The zero value warns of nothing; pi2pictl
// words it.
type keyWarning struct {
	old    string
	code   control.Code
	detail string
}

// errNoKeyBook is accept without a state directory.
var errNoKeyBook = errors.New("no state directory")

// errDamaged marks a peers file with a line that does not parse.
var errDamaged = transport.ErrDamaged

func (k *keyBook) read() (map[string]string, error) {
	if k.path == "" {
		return map[string]string{}, nil
	}
	data, err := os.ReadFile(k.path)
	if errors.Is(err, os.ErrNotExist) {
		return map[string]string{}, nil
	}
	if err != nil {
		return nil, err
	}
	return parsePeers(data)
}

// parsePeers reads "userid SHA256:..." lines, blank lines and # comments.
// Any other line makes the file damaged: the map returned holds the lines
// that parsed, with an error wrapping errDamaged.
func parsePeers(data []byte) (map[string]string, error) {
	return transport.ParseFingerprints(data)
}

// check says whether user's key is not the one accepted, or pi2pid cannot
// tell. A user met for the first time has key accepted.
func (k *keyBook) check(user string, key ed25519.PublicKey) keyWarning {
	k.mu.Lock()
	defer k.mu.Unlock()
	m, err := k.read()
	if err != nil {
		return unreadable(err)
	}
	if _, ok := m[user]; !ok {
		if err := k.write(m, user, key); err != nil {
			return keyWarning{code: control.CodePeersUnwritable, detail: err.Error()}
		}
		return keyWarning{}
	}
	return changed(m[user], key)
}

// peek is check without recording anything.
func (k *keyBook) peek(user string, key ed25519.PublicKey) keyWarning {
	w, _ := k.look(user, key)
	return w
}

// look is peek that also tells whether user is met for the first time
// (the record could be read and holds no key for user).
func (k *keyBook) look(user string, key ed25519.PublicKey) (w keyWarning, first bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	m, err := k.read()
	if err != nil {
		return unreadable(err), false
	}
	old, ok := m[user]
	if !ok {
		return keyWarning{}, true
	}
	return changed(old, key), false
}

// keyAhead is check for one chat set-up, begun as soon as the peer's key
// is known (after the TLS handshake) and before the chat is accepted: the
// record is read while the set-up waits for the network (the peer's
// CONNECTREPLY, the callee's lookup of the caller), not after, when the
// chat-start waits for it. Reading records nothing, so a set-up that
// fails, or a caller not yet verified, leaves the record as it was; only
// a first use, which records the key, is left for the chat's start
// (result). A key accepted in between (pi2pictl verify --accept, a
// millisecond's window) shows in the next chat.
type keyAhead struct {
	k     *keyBook
	user  string
	key   ed25519.PublicKey
	done  chan struct{}
	w     keyWarning
	first bool
}

// keyAhead starts look for user's key in a goroutine of t (at once when t is
// stopping). nil key (plain mode): nil.
func (t *Terminal) keyAhead(user string, key ed25519.PublicKey) *keyAhead {
	if key == nil {
		return nil
	}
	a := &keyAhead{k: t.keys, user: user, key: key, done: make(chan struct{})}
	run := func() {
		defer close(a.done)
		a.w, a.first = a.k.look(user, key)
	}
	if !t.track(run) {
		run()
	}
	return a
}

// result is check's answer for the chat: the warning for the key, and on
// first use the key recorded as accepted (trust on first use).
func (a *keyAhead) result() keyWarning {
	<-a.done
	if a.first {
		return a.k.check(a.user, a.key)
	}
	return a.w
}

// accept records key as the one accepted for user. A damaged record is
// set aside first (setAside), never overwritten unseen.
func (k *keyBook) accept(user string, key ed25519.PublicKey) error {
	if k.path == "" {
		return errNoKeyBook
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	m, err := k.read()
	if errors.Is(err, errDamaged) {
		err = k.setAside(err)
	}
	if err != nil {
		return fmt.Errorf("reading %s: %w", k.path, err)
	}
	return k.write(m, user, key)
}

// setAside renames a damaged peers file to peers.damaged-TIME, so that
// accepting a key does not overwrite it unseen, and logs where it went.
func (k *keyBook) setAside(damage error) error {
	kept := k.path + ".damaged-" + time.Now().UTC().Format("20060102T150405.000000000Z")
	if err := os.Rename(k.path, kept); err != nil {
		return fmt.Errorf("%v, and it cannot be moved aside: %w", damage, err)
	}
	log := k.log
	if log == nil {
		log = slog.Default()
	}
	log.Warn("the record of peers' keys was damaged; it was kept and a new one started with the lines that could be read",
		"damage", damage.Error(), "kept", kept, "path", k.path)
	return nil
}

// unreadable is the warning when the record cannot be read or is damaged.
func unreadable(err error) keyWarning {
	if errors.Is(err, errDamaged) {
		return keyWarning{code: control.CodePeersDamaged, detail: err.Error()}
	}
	return keyWarning{code: control.CodePeersUnreadable, detail: err.Error()}
}

// changed is the warning for key when old is the accepted fingerprint.
func changed(old string, key ed25519.PublicKey) keyWarning {
	if old == transport.Fingerprint(key) {
		return keyWarning{}
	}
	return keyWarning{old: old}
}

func (k *keyBook) write(m map[string]string, user string, key ed25519.PublicKey) error {
	if k.path == "" {
		return nil
	}
	if _, err := wire.NormalizeUserID(user); err != nil {
		return fmt.Errorf("%q is not a user ID that the peers file can hold: %w", user, err)
	}
	fp := transport.Fingerprint(key)
	if m[user] == fp {
		return nil
	}
	m[user] = fp
	var b strings.Builder
	b.WriteString("# pi2pid: the key accepted for each user\n")
	for u, f := range m {
		fmt.Fprintf(&b, "%s %s\n", u, f)
	}
	return transport.WriteFileAtomic(k.path, []byte(b.String()), 0o600)
}
