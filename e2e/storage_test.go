package e2e

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/crypto/argon2"
)

// TestEnrolledHashIsPepperedArgon2id: what `pi2pi-server user add` stores
// for ali is exactly argon2id (m = 19 MiB, t = 2, p = 1) over
// HMAC-SHA256(pepper, credential.FromDigits("ali", digits)), computed here
// from the files alone with the pepper read from the state directory. The
// pepper file is separate and mode 0600, and neither file holds the digits
// or the credential.
func TestEnrolledHashIsPepperedArgon2id(t *testing.T) {
	t.Parallel()
	needBinaries(t)
	dir := shortDir(t, "enrol")
	users, state := filepath.Join(dir, "users"), filepath.Join(dir, "state")
	cmd := exec.Command(serverBin, "user", "add", "ali", "--users", users, "--state-dir", state)
	cmd.Stdin = strings.NewReader(passcodes["ali"] + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("pi2pi-server user add: %v\n%s", err, out)
	}
	usersText, err := os.ReadFile(users)
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^ali \$argon2id\$v=19\$m=19456,t=2,p=1\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)\s*$`).FindSubmatch(usersText)
	if m == nil {
		t.Fatalf("the users file holds no argon2id (m=19456,t=2,p=1) line for ali:\n%s", usersText)
	}
	salt, err1 := base64.RawStdEncoding.DecodeString(string(m[1]))
	stored, err2 := base64.RawStdEncoding.DecodeString(string(m[2]))
	if err1 != nil || err2 != nil || len(salt) < 16 || len(stored) != 32 {
		t.Fatalf("salt %x (%v), hash %x (%v): want ≥16 and 32 bytes", salt, err1, stored, err2)
	}

	pepperPath := filepath.Join(state, "pepper")
	fi, err := os.Stat(pepperPath)
	if err != nil {
		t.Fatalf("no pepper file beside the users file: %v", err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("pepper mode %#o, want 0600", fi.Mode().Perm())
	}
	pepperHex, _ := os.ReadFile(pepperPath)
	pepper, err := hex.DecodeString(strings.TrimSpace(string(pepperHex)))
	if err != nil || len(pepper) < 16 {
		t.Fatalf("pepper file %q: %v", pepperHex, err)
	}

	argon := func(key []byte) []byte { return argon2.IDKey(key, salt, 2, 19*1024, 1, 32) }
	peppered := func(p []byte) []byte {
		h := hmac.New(sha256.New, p)
		h.Write([]byte(credentialOf("ali")))
		return h.Sum(nil)
	}
	if got := argon(peppered(pepper)); !bytes.Equal(got, stored) {
		t.Fatalf("stored hash %x is not argon2id(HMAC-SHA256(pepper, credential)) = %x", stored, got)
	}
	// Without the pepper file, the users file gives nothing to test a
	// guess against: the right PIN with no pepper or another pepper fails.
	if bytes.Equal(argon([]byte(credentialOf("ali"))), stored) {
		t.Error("the stored hash does not depend on the pepper")
	}
	if bytes.Equal(argon(peppered(bytes.Repeat([]byte{0}, len(pepper)))), stored) {
		t.Error("a zero pepper gives the stored hash")
	}
	// (The 4-digit passcode is not looked for in the hex pepper, where
	// it would turn up by chance once in a thousand runs.)
	if bytes.Contains(usersText, []byte(passcodes["ali"])) {
		t.Error("the users file holds ali's passcode")
	}
	if bytes.Contains(usersText, []byte(credentialOf("ali"))) || bytes.Contains(pepperHex, []byte(credentialOf("ali"))) {
		t.Error("the server's files hold ali's credential")
	}
}
