package transport

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
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

// ReadFingerprints reads a file of "name fingerprint" lines, the format of
// KnownHosts and of pi2pid's record of the keys its peers last used. Blank
// lines and lines starting with '#' are skipped; a missing file holds none.
func ReadFingerprints(path string) (map[string]string, error) {
	m := map[string]string{}
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return m, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, fp, ok := strings.Cut(line, " ")
		if ok {
			m[name] = strings.TrimSpace(fp)
		}
	}
	return m, sc.Err()
}
