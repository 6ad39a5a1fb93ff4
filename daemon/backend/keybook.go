package backend

import (
	"crypto/ed25519"
	"fmt"
	"strings"
	"sync"

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

func (k *keyBook) read() (map[string]string, error) {
	if k.path == "" {
		return map[string]string{}, nil
	}
	return transport.ReadFingerprints(k.path)
}

// check returns a warning for people when user's key is not the one
// accepted, or when pi2pid cannot tell; "" otherwise. A user met for the
// first time has key accepted.
func (k *keyBook) check(user string, key ed25519.PublicKey) string {
	k.mu.Lock()
	defer k.mu.Unlock()
	m, err := k.read()
	if err != nil {
		return k.unreadable(user, err)
	}
	if _, ok := m[user]; !ok {
		if err := k.write(m, user, key); err != nil {
			return fmt.Sprintf("cannot record %s's key in %s (%v): a later change of it will not be noticed", user, k.path, err)
		}
		return ""
	}
	return changedWarning(user, m[user], key)
}

// peek is check without recording anything.
func (k *keyBook) peek(user string, key ed25519.PublicKey) string {
	k.mu.Lock()
	defer k.mu.Unlock()
	m, err := k.read()
	if err != nil {
		return k.unreadable(user, err)
	}
	old, ok := m[user]
	if !ok {
		return ""
	}
	return changedWarning(user, old, key)
}

// accept records key as the one accepted for user.
func (k *keyBook) accept(user string, key ed25519.PublicKey) error {
	if k.path == "" {
		return fmt.Errorf("pi2pid keeps no record of peers' keys (it was started without a state directory)")
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	m, err := k.read()
	if err != nil {
		return fmt.Errorf("reading %s: %w", k.path, err)
	}
	return k.write(m, user, key)
}

func (k *keyBook) unreadable(user string, err error) string {
	return fmt.Sprintf("cannot read the record of your peers' keys (%v), so pi2pid cannot tell whether %s's key changed: "+
		"compare the safety code by voice, and fix the file's permissions (sudo systemctl restart pi2pid repairs the state directory)", err, user)
}

func changedWarning(user, old string, key ed25519.PublicKey) string {
	fp := transport.Fingerprint(key)
	if old == fp {
		return ""
	}
	return fmt.Sprintf("%s's key has changed since you accepted it (was %s, now %s). "+
		"If %s did not reinstall their terminal, someone may be impersonating them: compare the safety code by voice before you trust this chat. "+
		"Once it matches, run `pi2pictl verify %s --accept`; until then every chat with this key warns",
		user, old, fp, user, user)
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
