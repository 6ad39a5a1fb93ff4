package backend

import (
	"crypto/ed25519"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pi2pi/pi2pi/internal/transport"
)

func newKey(t *testing.T) ed25519.PublicKey {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	return pub
}

func TestKeyBookPointsOutAChangedKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "peers")
	k := &keyBook{path: path}
	ali, ali2, bianca := newKey(t), newKey(t), newKey(t)
	if w := k.changed("ali", ali); w != "" {
		t.Fatalf("first chat with ali warns: %s", w)
	}
	for _, r := range []struct {
		user string
		key  ed25519.PublicKey
	}{{"ali", ali}, {"bianca", bianca}, {"ali", ali}} {
		if err := k.remember(r.user, r.key); err != nil {
			t.Fatal(err)
		}
	}
	if w := k.changed("ali", ali); w != "" {
		t.Fatalf("same key warns: %s", w)
	}
	if w := k.changed("ali", ali2); w != transport.Fingerprint(ali) {
		t.Fatalf("changed key: %q, want the old key %s", w, transport.Fingerprint(ali))
	}
	m, err := transport.ReadFingerprints(path)
	if err != nil || len(m) != 2 || m["bianca"] != transport.Fingerprint(bianca) {
		t.Fatalf("peers file holds %v, %v", m, err)
	}
	data, _ := os.ReadFile(path)
	if !strings.HasPrefix(string(data), "# ") {
		t.Errorf("peers file has no header comment:\n%s", data)
	}
}

func TestKeyBookWithoutFile(t *testing.T) {
	k := &keyBook{}
	if err := k.remember("ali", newKey(t)); err != nil {
		t.Fatal(err)
	}
	if w := k.changed("ali", newKey(t)); w != "" {
		t.Fatalf("no peers file, yet a warning: %s", w)
	}
}
