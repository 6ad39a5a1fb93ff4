package transport

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"unicode/utf8"
)

// ErrServerKeyChanged means a pinned server now presents another key.
var ErrServerKeyChanged = errors.New("server key changed")

// KnownHosts pins server keys on first use, like OpenSSH's known_hosts. The
// file holds one "host fingerprint" pair per line.
type KnownHosts struct {
	Path string
	mu   sync.Mutex
}

// Verify returns a VerifyFunc for host. With a configured fingerprint only
// that key is accepted. Without one, the first key seen is recorded and any
// later different key is refused with ErrServerKeyChanged.
func (k *KnownHosts) Verify(host, fingerprint string) VerifyFunc {
	return func(peer ed25519.PublicKey) error {
		got := Fingerprint(peer)
		if fingerprint != "" {
			if got != fingerprint {
				return fmt.Errorf("%w: server %s presented key %s but the configured fingerprint is %s; "+
					"if the server was reinstalled, ask its admin for `pi2pi-server fingerprint` and update --server-fingerprint",
					ErrServerKeyChanged, host, got, fingerprint)
			}
			return nil
		}
		k.mu.Lock()
		defer k.mu.Unlock()
		hosts, err := k.read()
		if err != nil {
			return err
		}
		if want, ok := hosts[host]; ok {
			if want != got {
				return fmt.Errorf("%w: server %s presented key %s but %s was recorded on first use; "+
					"if the server was reinstalled, check `pi2pi-server fingerprint` on it and remove its line from %s",
					ErrServerKeyChanged, host, got, want, k.Path)
			}
			return nil
		}
		var b bytes.Buffer
		if data, err := os.ReadFile(k.Path); err == nil {
			b.Write(data)
			if b.Len() > 0 && !bytes.HasSuffix(data, []byte("\n")) {
				b.WriteByte('\n')
			}
		}
		fmt.Fprintf(&b, "%s %s\n", host, got)
		return WriteFileAtomic(k.Path, b.Bytes(), 0o600)
	}
}

// Lookup returns the recorded fingerprint of host, if any.
func (k *KnownHosts) Lookup(host string) (string, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	hosts, err := k.read()
	if err != nil {
		return "", false
	}
	fp, ok := hosts[host]
	return fp, ok
}

func (k *KnownHosts) read() (map[string]string, error) { return ReadFingerprints(k.Path) }

// ErrDamaged marks a fingerprint file with a line that does not parse.
var ErrDamaged = errors.New("damaged")

// ReadFingerprints reads a file of "name fingerprint" lines, the format of
// KnownHosts. Blank lines and lines starting with '#' are skipped; a missing
// file holds none. Any other line that does not read as "NAME SHA256:..."
// (or names a host twice with two keys) is an error wrapping ErrDamaged:
// skipping it would make a pinned server look unpinned, and the next key it
// presents would be trusted as if met for the first time.
func ReadFingerprints(path string) (map[string]string, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return map[string]string{}, nil
	}
	if err != nil {
		return nil, err
	}
	m, err := ParseFingerprints(data)
	if err != nil {
		return m, fmt.Errorf("%s: %w; fix or remove that line", path, err)
	}
	return m, nil
}

// ParseFingerprints reads "name SHA256:..." lines, blank lines and #
// comments. The map returned holds the lines that parsed; any other line
// makes the error, wrapping ErrDamaged, name the first such line.
func ParseFingerprints(data []byte) (map[string]string, error) {
	m := map[string]string{}
	var bad []int
	for n, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, fp, ok := strings.Cut(line, " ")
		fp = strings.TrimSpace(fp)
		if old, dup := m[name]; !ok || !utf8.ValidString(line) || !ValidFingerprint(fp) || (dup && old != fp) {
			bad = append(bad, n+1)
			continue
		}
		m[name] = fp
	}
	if len(bad) > 0 {
		return m, fmt.Errorf("%w: line %d does not read as \"NAME SHA256:...\" (%d such lines)", ErrDamaged, bad[0], len(bad))
	}
	return m, nil
}

// ValidFingerprint reports whether fp is what Fingerprint returns for some
// key: "SHA256:" and 32 bytes in unpadded base64.
func ValidFingerprint(fp string) bool {
	b64, ok := strings.CutPrefix(fp, "SHA256:")
	if !ok {
		return false
	}
	sum, err := base64.RawStdEncoding.DecodeString(b64)
	return err == nil && len(sum) == 32
}
