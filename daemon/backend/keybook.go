package backend

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

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

// errDamaged marks a peers file with a line that does not parse.
var errDamaged = errors.New("damaged")

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
	m := map[string]string{}
	var bad []int
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, len(data)+1)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		user, fp, ok := strings.Cut(line, " ")
		if old, dup := m[user]; !ok || !utf8.ValidString(line) || !validFingerprint(fp) || (dup && old != fp) {
			bad = append(bad, n)
			continue
		}
		m[user] = fp
	}
	if len(bad) > 0 {
		return m, fmt.Errorf("%w: line %d does not read as \"USERID SHA256:...\" (%d such lines)", errDamaged, bad[0], len(bad))
	}
	return m, nil
}

func validFingerprint(fp string) bool {
	b64, ok := strings.CutPrefix(fp, "SHA256:")
	if !ok {
		return false
	}
	sum, err := base64.RawStdEncoding.DecodeString(b64)
	return err == nil && len(sum) == 32
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

func (k *keyBook) unreadable(user string, err error) string {
	if errors.Is(err, errDamaged) {
		return fmt.Sprintf("the record of your peers' keys (%s) is damaged (%v), so pi2pid cannot tell whether %s's key changed: "+
			"compare the safety code by voice; once it matches, run `pi2pictl verify %s --accept`, "+
			"which keeps the damaged file beside it as %s.damaged-TIME and starts a new record; until then every chat warns",
			k.path, err, user, user, k.path)
	}
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
