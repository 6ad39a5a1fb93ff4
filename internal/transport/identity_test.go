package transport

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestWriteFileAtomic(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "new", "dir")
	path := filepath.Join(dir, "users")
	for _, tc := range []struct {
		data string
		perm os.FileMode
	}{
		{"first\n", 0o600},
		{"second, longer than the first\n", 0o640},
		{"", 0o644},
	} {
		if err := WriteFileAtomic(path, []byte(tc.data), tc.perm); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(path)
		if err != nil || string(got) != tc.data {
			t.Fatalf("content %q, %v; want %q", got, err, tc.data)
		}
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		// The mode is exact, whatever the umask.
		if fi.Mode().Perm() != tc.perm {
			t.Errorf("mode %v, want %v", fi.Mode().Perm(), tc.perm)
		}
		assertOnlyFiles(t, dir, "users")
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("created directory: %v, %v; want mode 0700", fi.Mode(), err)
	}

	// A failed write leaves the old content and no temporary file: here
	// the rename fails because the target is a non-empty directory.
	blocker := filepath.Join(dir, "blocker")
	if err := os.MkdirAll(filepath.Join(blocker, "x"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := WriteFileAtomic(blocker, []byte("data"), 0o600); err == nil {
		t.Fatal("WriteFileAtomic over a directory succeeded")
	}
	assertOnlyFiles(t, dir, "blocker", "users")
}

// A writer killed before its rename leaves its temporary file; the next
// write removes such files once they are StaleTemp old, and leaves a
// younger one (a writer at work) and other files alone.
func TestWriteFileAtomicRemovesStaleTemps(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "peers")
	old := time.Now().Add(-2 * StaleTemp)
	for _, name := range []string{".peers.tmp123", ".peers.tmp456", ".known_hosts.tmp1"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("half"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(filepath.Join(dir, name), old, old); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, ".peers.tmp789"), []byte("busy"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := WriteFileAtomic(path, []byte("ali SHA256:x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	assertOnlyFiles(t, dir, ".known_hosts.tmp1", ".peers.tmp789", "peers")
}

func assertOnlyFiles(t *testing.T, dir string, want ...string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range ents {
		got = append(got, e.Name())
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("directory holds %q, want %q (a temporary file left behind?)", got, want)
	}
}

func TestLoadOrCreateIdentity(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state", "identity.key")
	id, err := LoadOrCreateIdentity(path)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("identity key mode %v, want 0600", fi.Mode().Perm())
	}
	assertOnlyFiles(t, filepath.Dir(path), "identity.key")
	data, _ := os.ReadFile(path)
	if !bytes.HasPrefix(data, []byte("-----BEGIN PRIVATE KEY-----\n")) {
		t.Errorf("identity file is not a PEM private key:\n%s", data)
	}

	again, err := LoadOrCreateIdentity(path)
	if err != nil {
		t.Fatal(err)
	}
	if !again.Public.Equal(id.Public) || !again.Private.Equal(id.Private) {
		t.Fatal("reloading the identity gave another key")
	}
	// The certificate carries the key and signs with it.
	cert, err := x509.ParseCertificate(again.cert.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	if pub, ok := cert.PublicKey.(ed25519.PublicKey); !ok || !pub.Equal(id.Public) {
		t.Error("certificate does not hold the identity's key")
	}
	if err := cert.CheckSignature(cert.SignatureAlgorithm, cert.RawTBSCertificate, cert.Signature); err != nil {
		t.Errorf("certificate is not self-signed: %v", err)
	}

	other, err := LoadOrCreateIdentity(filepath.Join(dir, "other.key"))
	if err != nil {
		t.Fatal(err)
	}
	if other.Public.Equal(id.Public) {
		t.Fatal("two new identities share a key")
	}
}

func TestLoadOrCreateIdentityRejects(t *testing.T) {
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecDER, err := x509.MarshalPKCS8PrivateKey(ecKey)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, content, want string
	}{
		{"empty", "", "not a PEM private key"},
		{"garbage", "this is not a key\n", "not a PEM private key"},
		{"certificate", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{1, 2, 3}})), "not a PEM private key"},
		{"bad DER", string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1, 2, 3}})), "identity key"},
		{"ECDSA key", string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: ecDER})), "not an Ed25519 key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "identity.key")
			if err := os.WriteFile(path, []byte(tc.content), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := LoadOrCreateIdentity(path)
			if err == nil {
				t.Fatal("loaded a bad identity file")
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), path) {
				t.Errorf("error %q should say %q and name the file", err, tc.want)
			}
			// A bad file is never replaced silently: that would change
			// the terminal's identity behind its users' backs.
			if got, _ := os.ReadFile(path); string(got) != tc.content {
				t.Error("the bad identity file was overwritten")
			}
		})
	}
	// An unreadable path (a directory) is an error, not a new identity.
	if _, err := LoadOrCreateIdentity(t.TempDir()); err == nil {
		t.Error("loaded an identity from a directory")
	}
}

// Known answers computed with Python's hashlib and base64 for the 32-byte
// key 00 01 02 … 1f.
var keyA = ed25519.PublicKey(seq(0, 32))

func seq(start, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(start + i)
	}
	return b
}

func TestFingerprintKnownAnswer(t *testing.T) {
	const want = "SHA256:Yw3NKWbEM2aRElRIu7JbT/QSpJxzLbLIq8G4WBvXEN0"
	if got := Fingerprint(keyA); got != want {
		t.Errorf("Fingerprint = %s, want %s", got, want)
	}
}

func TestKeyString(t *testing.T) {
	const want = "ed25519:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
	if got := KeyString(keyA); got != want {
		t.Errorf("KeyString = %s, want %s", got, want)
	}
	id := newIdentity(t)
	s := KeyString(id.Public)
	back, err := ParseKeyString(s)
	if err != nil || !back.Equal(id.Public) {
		t.Fatalf("ParseKeyString(KeyString(k)) = %x, %v", back, err)
	}
	for _, bad := range []string{
		"",
		"1234", // what the course's test server sends
		"ed25519:",
		"ed25519:!!!!",
		"ed25519:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd", // 30 bytes
		"ed25519:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gIQ==",
		"ed25519:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8", // unpadded
		"ED25519:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
		"ssh-ed25519 AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
		" ed25519:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
	} {
		if k, err := ParseKeyString(bad); err == nil {
			t.Errorf("ParseKeyString(%q) = %x, want an error", bad, k)
		}
	}
}
