package backend

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/pi2pi/pi2pi/internal/control"
	"github.com/pi2pi/pi2pi/internal/transport"
)

// keyBook remembers the key accepted for each user in DIR/peers, one
// "userid fingerprint" line each, so that a changed key can be pointed
// out. The key seen in the first chat with a user is accepted on its own
// (trust on first use); a different key later is not recorded, and every
// chat with it warns until the person accepts it (`pi2pictl verify USER
// --accept`). A peers file that cannot be read is a warning too.
type keyBook struct {
	path string
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

func (k *keyBook) read() (map[string]string, error) {
	if k.path == "" {
		return map[string]string{}, nil
	}
	return transport.ReadFingerprints(k.path)
}

// check says whether user's key is not the one accepted, or pi2pid cannot
// tell. A user met for the first time has key accepted.
func (k *keyBook) check(user string, key ed25519.PublicKey) keyWarning {
	k.mu.Lock()
	defer k.mu.Unlock()
	m, err := k.read()
	if err != nil {
		return keyWarning{code: control.CodePeersUnreadable, detail: err.Error()}
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
	k.mu.Lock()
	defer k.mu.Unlock()
	m, err := k.read()
	if err != nil {
		return keyWarning{code: control.CodePeersUnreadable, detail: err.Error()}
	}
	old, ok := m[user]
	if !ok {
		return keyWarning{}
	}
	return changed(old, key)
}

// accept records key as the one accepted for user.
func (k *keyBook) accept(user string, key ed25519.PublicKey) error {
	if k.path == "" {
		return errNoKeyBook
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	m, err := k.read()
	if err != nil {
		return fmt.Errorf("reading %s: %w", k.path, err)
	}
	return k.write(m, user, key)
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
