package backend

import (
	"crypto/ed25519"
	"fmt"
	"strings"
	"sync"

	"github.com/pi2pi/pi2pi/internal/transport"
)

// keyBook remembers the key last seen for each user in DIR/peers, one
// "userid fingerprint" line each, so that a changed key can be pointed out.
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

// changed returns the fingerprint last seen for user when key differs
// from it, "" otherwise.
func (k *keyBook) changed(user string, key ed25519.PublicKey) string {
	k.mu.Lock()
	defer k.mu.Unlock()
	m, err := k.read()
	if err != nil {
		return ""
	}
	if old := m[user]; old != transport.Fingerprint(key) {
		return old
	}
	return ""
}

// remember records key as the one last seen for user.
func (k *keyBook) remember(user string, key ed25519.PublicKey) error {
	if k.path == "" {
		return nil
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	m, err := k.read()
	if err != nil {
		return err
	}
	fp := transport.Fingerprint(key)
	if m[user] == fp {
		return nil
	}
	m[user] = fp
	var b strings.Builder
	b.WriteString("# pi2pid: the key last seen for each user\n")
	for u, f := range m {
		fmt.Fprintf(&b, "%s %s\n", u, f)
	}
	return transport.WriteFileAtomic(k.path, []byte(b.String()), 0o600)
}
