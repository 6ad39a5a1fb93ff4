package transport

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Identity is a long-term Ed25519 key and the self-signed certificate that
// carries it in TLS handshakes. Trust comes from pinning the public key,
// never from the certificate's issuer or dates.
type Identity struct {
	Private ed25519.PrivateKey
	Public  ed25519.PublicKey
	cert    tls.Certificate
}

// NewIdentity wraps an existing key in a self-signed certificate.
func NewIdentity(priv ed25519.PrivateKey) (*Identity, error) {
	pub := priv.Public().(ed25519.PublicKey)
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "pi2pi " + Fingerprint(pub)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().AddDate(100, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, priv)
	if err != nil {
		return nil, err
	}
	return &Identity{
		Private: priv,
		Public:  pub,
		cert:    tls.Certificate{Certificate: [][]byte{der}, PrivateKey: priv},
	}, nil
}

// GenerateIdentity creates a fresh identity in memory.
func GenerateIdentity() (*Identity, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	return NewIdentity(priv)
}

// LoadOrCreateIdentity reads the PEM-encoded PKCS#8 Ed25519 key at path, or
// creates one (mode 0600, written atomically) when the file does not exist.
func LoadOrCreateIdentity(path string) (*Identity, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		id, err := GenerateIdentity()
		if err != nil {
			return nil, err
		}
		der, err := x509.MarshalPKCS8PrivateKey(id.Private)
		if err != nil {
			return nil, err
		}
		pemBytes := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
		if err := WriteFileAtomic(path, pemBytes, 0o600); err != nil {
			return nil, fmt.Errorf("saving identity key: %w", err)
		}
		return id, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading identity key: %w", err)
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("identity key %s is not a PEM private key; move it away to create a new identity", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("identity key %s: %w", path, err)
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("identity key %s is not an Ed25519 key", path)
	}
	return NewIdentity(priv)
}

// WriteFileAtomic writes data to a temporary file beside path, syncs it,
// renames it over path and syncs the directory, so that a crash leaves
// either the old or the new content, never a mix.
func WriteFileAtomic(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	pattern := "." + filepath.Base(path) + ".tmp*"
	removeOldTemps(filepath.Join(dir, pattern))
	f, err := os.CreateTemp(dir, pattern)
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op after a successful rename
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}

// StaleTemp is the age past which a temporary file of WriteFileAtomic is
// taken to be left by a writer that was killed before its rename: a write
// takes milliseconds, so no writer still uses it.
const StaleTemp = time.Minute

// removeOldTemps deletes the temporary files matching pattern that are
// older than StaleTemp.
func removeOldTemps(pattern string) {
	old, _ := filepath.Glob(pattern)
	for _, name := range old {
		if fi, err := os.Lstat(name); err == nil && fi.Mode().IsRegular() && time.Since(fi.ModTime()) > StaleTemp {
			_ = os.Remove(name)
		}
	}
}

// Fingerprint returns "SHA256:" and the unpadded base64 SHA-256 of the raw
// public key, in the style of OpenSSH.
func Fingerprint(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return "SHA256:" + base64.RawStdEncoding.EncodeToString(sum[:])
}

// KeyString encodes a public key for the LOOKUPREPLY encryptionkey field.
func KeyString(pub ed25519.PublicKey) string {
	return "ed25519:" + base64.StdEncoding.EncodeToString(pub)
}

// ParseKeyString decodes what KeyString produced.
func ParseKeyString(s string) (ed25519.PublicKey, error) {
	rest, ok := strings.CutPrefix(s, "ed25519:")
	if !ok {
		return nil, fmt.Errorf("key %q is not an ed25519 public key", s)
	}
	b, err := base64.StdEncoding.DecodeString(rest)
	if err != nil || len(b) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("key %q is not an ed25519 public key", s)
	}
	return ed25519.PublicKey(b), nil
}
