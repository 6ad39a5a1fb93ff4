package userstore

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/crypto/argon2"
)

// phcRE is the documented format: argon2id, version 19, m = 19 MiB, t = 2,
// p = 1, a 16-byte salt and a 32-byte hash, unpadded standard base64.
var phcRE = regexp.MustCompile(`^\$argon2id\$v=19\$m=19456,t=2,p=1\$([A-Za-z0-9+/]{22})\$([A-Za-z0-9+/]{43})$`)

// expectedKey computes, independently of the package, what the stored hash
// must be: argon2id(HMAC-SHA256(pepper, credential), salt) with the
// documented parameters.
func expectedKey(pepper []byte, credential string, salt []byte) []byte {
	m := hmac.New(sha256.New, pepper)
	m.Write([]byte(credential))
	return argon2.IDKey(m.Sum(nil), salt, 2, 19*1024, 1, 32)
}

// TestStoredHashIsPepperedArgon2id: a stored hash has the documented
// parameters and PHC format, and is exactly argon2id over
// HMAC-SHA256(pepper, credential). Without the pepper, or with another one,
// the same credential and salt give another hash, and the hash does not
// verify.
func TestStoredHashIsPepperedArgon2id(t *testing.T) {
	pepper := []byte("the-right-pepper-0123456789abcdef")
	h := NewHasher(pepper, DefaultParams, 1)
	const cred = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0"
	phc, err := h.Hash(context.Background(), cred)
	if err != nil {
		t.Fatal(err)
	}
	m := phcRE.FindStringSubmatch(phc)
	if m == nil {
		t.Fatalf("stored hash %q is not $argon2id$v=19$m=19456,t=2,p=1$<16-byte salt>$<32-byte hash>", phc)
	}
	salt, err := base64.RawStdEncoding.DecodeString(m[1])
	if err != nil {
		t.Fatal(err)
	}
	stored, err := base64.RawStdEncoding.DecodeString(m[2])
	if err != nil {
		t.Fatal(err)
	}
	if want := expectedKey(pepper, cred, salt); !bytes.Equal(stored, want) {
		t.Fatalf("stored hash is not argon2id(HMAC-SHA256(pepper, credential)):\n got %x\nwant %x", stored, want)
	}
	// Without the pepper: argon2id over the bare credential is another value.
	if bare := argon2.IDKey([]byte(cred), salt, 2, 19*1024, 1, 32); bytes.Equal(stored, bare) {
		t.Error("the pepper does not enter the hash: argon2id(credential) equals the stored hash")
	}
	// Another pepper gives another hash for the same credential and salt.
	other := []byte("another-pepper-0123456789abcdef!!")
	if bytes.Equal(stored, expectedKey(other, cred, salt)) {
		t.Error("two peppers give the same hash")
	}
	// The right pepper verifies; a wrong pepper, an empty pepper and a
	// wrong credential do not.
	if ok, err := h.Verify(context.Background(), phc, cred); !ok || err != nil {
		t.Fatalf("Verify with the right pepper = %v, %v", ok, err)
	}
	for name, p := range map[string][]byte{"another pepper": other, "no pepper": nil, "pepper with one byte changed": append(bytes.Clone(pepper[:len(pepper)-1]), 'g')} {
		if ok, err := NewHasher(p, DefaultParams, 1).Verify(context.Background(), phc, cred); ok || err != nil {
			t.Errorf("Verify with %s = %v, %v; want false, nil", name, ok, err)
		}
	}
	if ok, _ := h.Verify(context.Background(), phc, cred[:63]+"1"); ok {
		t.Error("a credential differing in its last digit verified")
	}
	// Fresh salt each time: the same credential never gives the same string.
	phc2, _ := h.Hash(context.Background(), cred)
	if phc2 == phc {
		t.Error("two hashes of one credential are identical (salt reused)")
	}
}

// TestWeakerParametersAreRefused: a hash made with parameters below the
// documented floor (m = 19 MiB, t = 2, p = 1), even a correct one made with
// the right pepper, is refused, so editing the users file cannot weaken
// logins. Parameters at or above the floor verify.
func TestWeakerParametersAreRefused(t *testing.T) {
	pepper := []byte("pepper-pepper-pepper")
	const cred = "cred"
	for _, tc := range []struct {
		name string
		p    Params
		ok   bool
	}{
		{"the documented floor", DefaultParams, true},
		{"more memory and time", Params{Memory: 2 * 19 * 1024, Time: 3, Threads: 2}, true},
		{"1 KiB less memory", Params{Memory: 19*1024 - 1, Time: 2, Threads: 1}, false},
		{"t=1", Params{Memory: 19 * 1024, Time: 1, Threads: 1}, false},
		{"m=64 MiB but t=1", Params{Memory: 64 * 1024, Time: 1, Threads: 1}, false},
		{"m=4 MiB, t=10", Params{Memory: 4 * 1024, Time: 10, Threads: 1}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			phc, err := NewHasher(pepper, tc.p, 1).Hash(context.Background(), cred)
			if err != nil {
				t.Fatal(err)
			}
			strict := NewHasher(pepper, DefaultParams, 1)
			ok, err := strict.Verify(context.Background(), phc, cred)
			if ok != tc.ok || (err == nil) != tc.ok {
				t.Errorf("Verify(%s) = %v, %v; want ok=%v", phc, ok, err, tc.ok)
			}
			_, perr := Parse(strings.NewReader("ali " + phc + "\n"))
			if (perr == nil) != tc.ok {
				t.Errorf("Parse of a users file with %s: err = %v, want accepted=%v", phc, perr, tc.ok)
			}
		})
	}
	// Hand-edited strings: p=0, another argon2 version, argon2i, argon2d.
	valid, _ := NewHasher(pepper, DefaultParams, 1).Hash(context.Background(), cred)
	for _, edit := range []string{
		strings.Replace(valid, ",p=1$", ",p=0$", 1),
		strings.Replace(valid, "$v=19$", "$v=16$", 1),
		strings.Replace(valid, "$argon2id$", "$argon2i$", 1),
		strings.Replace(valid, "$argon2id$", "$argon2d$", 1),
	} {
		if ok, err := NewHasher(pepper, DefaultParams, 1).Verify(context.Background(), edit, cred); ok || err == nil {
			t.Errorf("Verify accepted %q", edit)
		}
	}
}
