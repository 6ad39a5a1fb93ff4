package backend

import (
	"crypto/ed25519"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pi2pi/pi2pi/internal/control"
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

// TestKeyBookWarnsUntilAccepted: the first key seen for a user is
// accepted; a changed key warns at every check until it is accepted, and
// is not recorded before.
func TestKeyBookWarnsUntilAccepted(t *testing.T) {
	path := filepath.Join(t.TempDir(), "peers")
	k := &keyBook{path: path}
	ali, ali2, bianca := newKey(t), newKey(t), newKey(t)
	if w := k.check("ali", ali); w != (keyWarning{}) {
		t.Fatalf("first chat with ali warns: %+v", w)
	}
	if w := k.check("bianca", bianca); w != (keyWarning{}) {
		t.Fatalf("first chat with bianca warns: %+v", w)
	}
	if w := k.check("ali", ali); w != (keyWarning{}) {
		t.Fatalf("same key warns: %+v", w)
	}
	for i := 0; i < 3; i++ {
		w := k.check("ali", ali2)
		if w != (keyWarning{old: transport.Fingerprint(ali)}) {
			t.Fatalf("check %d of the changed key: warning %+v, want the old key %s", i+1, w, transport.Fingerprint(ali))
		}
	}
	if w := k.peek("ali", ali2); w.old != transport.Fingerprint(ali) {
		t.Fatal("peek of the changed key does not warn")
	}
	m, err := transport.ReadFingerprints(path)
	if err != nil || len(m) != 2 || m["ali"] != transport.Fingerprint(ali) || m["bianca"] != transport.Fingerprint(bianca) {
		t.Fatalf("peers file holds %v, %v", m, err)
	}
	if err := k.accept("ali", ali2); err != nil {
		t.Fatal(err)
	}
	if w := k.check("ali", ali2); w != (keyWarning{}) {
		t.Fatalf("accepted key warns: %+v", w)
	}
	if w := k.check("ali", ali); w.old != transport.Fingerprint(ali2) {
		t.Fatal("the old key, no longer accepted, does not warn")
	}
	data, _ := os.ReadFile(path)
	if !strings.HasPrefix(string(data), "# ") {
		t.Errorf("peers file has no header comment:\n%s", data)
	}
}

// TestKeyBookUnreadableFileWarns: a peers file pi2pid cannot read is a
// warning, not silence, and is left as it is.
func TestKeyBookUnreadableFileWarns(t *testing.T) {
	path := filepath.Join(t.TempDir(), "peers")
	// A directory where the file should be cannot be read as one, even
	// by root.
	if err := os.Mkdir(path, 0o700); err != nil {
		t.Fatal(err)
	}
	k := &keyBook{path: path}
	for _, w := range []keyWarning{k.check("ali", newKey(t)), k.peek("ali", newKey(t))} {
		if w.code != control.CodePeersUnreadable || w.detail == "" || w.old != "" {
			t.Fatalf("unreadable peers file: warning %+v", w)
		}
	}
	if err := k.accept("ali", newKey(t)); err == nil {
		t.Fatal("accept with an unreadable peers file succeeded")
	}
}

func TestKeyBookWithoutFile(t *testing.T) {
	k := &keyBook{}
	for range 2 {
		if w := k.check("ali", newKey(t)); w != (keyWarning{}) {
			t.Fatalf("no peers file, yet a warning: %+v", w)
		}
	}
	if err := k.accept("ali", newKey(t)); !errors.Is(err, errNoKeyBook) {
		t.Fatalf("accept without a peers file: %v, want errNoKeyBook", err)
	}
}

// TestKeyBookDamagedFileWarns: a peers file with a line that does not
// parse is not taken as "no record": every peer warns, nothing is
// written over it, and accepting a key keeps the damaged file beside the
// new one.
func TestKeyBookDamagedFileWarns(t *testing.T) {
	ali, carol := newKey(t), newKey(t)
	for _, damaged := range []string{
		"garbage\x00\xff\ncarol\n",
		"ali " + transport.Fingerprint(ali) + "\ncarol\n",
		"ali SHA256:tooshort\n",
		"ali " + transport.Fingerprint(ali) + " extra\n",
		"ali " + transport.Fingerprint(ali) + "\nali " + transport.Fingerprint(carol) + "\n",
	} {
		dir := t.TempDir()
		path := filepath.Join(dir, "peers")
		if err := os.WriteFile(path, []byte(damaged), 0o600); err != nil {
			t.Fatal(err)
		}
		k := &keyBook{path: path}
		for i := 0; i < 2; i++ {
			for _, w := range []keyWarning{k.check("carol", carol), k.peek("carol", carol), k.check("ali", ali)} {
				if w.code != control.CodePeersDamaged || w.detail == "" {
					t.Fatalf("%q: warning %+v", damaged, w)
				}
			}
		}
		if data, _ := os.ReadFile(path); string(data) != damaged {
			t.Fatalf("%q: the damaged file was rewritten to %q", damaged, data)
		}
		if err := k.accept("carol", carol); err != nil {
			t.Fatalf("%q: accept: %v", damaged, err)
		}
		kept, _ := filepath.Glob(path + ".damaged-*")
		if len(kept) != 1 {
			t.Fatalf("%q: damaged copies %v, want one", damaged, kept)
		}
		if data, _ := os.ReadFile(kept[0]); string(data) != damaged {
			t.Fatalf("%q: the damaged copy holds %q", damaged, data)
		}
		if w := k.check("carol", carol); w != (keyWarning{}) {
			t.Fatalf("%q: accepted key warns: %+v", damaged, w)
		}
	}
}

// TestKeyBookKeepsTheFileReadable: a user name the file could not hold
// (a space, a newline) is not written, so the file never damages itself.
func TestKeyBookKeepsTheFileReadable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "peers")
	k := &keyBook{path: path}
	for _, bad := range []string{"ali carol", "ali\ncarol SHA256:x", "#ali"} {
		if w := k.check(bad, newKey(t)); w.code != control.CodePeersUnwritable {
			t.Fatalf("check(%q): warning %+v", bad, w)
		}
	}
	if w := k.check("ali", newKey(t)); w != (keyWarning{}) {
		t.Fatalf("the peers file was damaged: %+v", w)
	}
}

// TestKeyAheadRecordsOnlyWhenTaken: the check begun during a set-up reads
// the record and writes nothing; a set-up that ends without a chat (a
// caller refused, a peer that hung up) leaves no key behind, and only the
// chat's start records a key met for the first time.
func TestKeyAheadRecordsOnlyWhenTaken(t *testing.T) {
	path := filepath.Join(t.TempDir(), "peers")
	term := &Terminal{keys: &keyBook{path: path}}
	impostor, ali := newKey(t), newKey(t)
	a := term.keyAhead("ali", impostor) // refused later: result never taken
	<-a.done
	term.wg.Wait()
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a set-up that started no chat wrote the peers file: %v", err)
	}
	if w := term.keyAhead("ali", ali).result(); w != (keyWarning{}) {
		t.Fatalf("first chat with ali warns: %+v", w)
	}
	m, err := transport.ReadFingerprints(path)
	if err != nil || len(m) != 1 || m["ali"] != transport.Fingerprint(ali) {
		t.Fatalf("peers file holds %v, %v; want ali's key only", m, err)
	}
	if w := term.keyAhead("ali", impostor).result(); w.old != transport.Fingerprint(ali) {
		t.Fatalf("another key for ali: warning %+v, want the accepted key", w)
	}
	if term.keyAhead("ali", nil) != nil {
		t.Fatal("plain mode (no key) checks a key")
	}
}
