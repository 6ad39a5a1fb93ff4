package userstore

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"golang.org/x/crypto/argon2"

	"github.com/pi2pi/pi2pi/internal/transport"
)

// Params are argon2id cost parameters.
//
// We use m=19 MiB, t=2, p=1: exactly OWASP's minimum recommendation for
// argon2id. The server may run on a Raspberry Pi or a student's laptop and
// must survive a login flood, so memory is the scarce resource: each
// hash in flight holds m of RAM, and at most MaxConcurrent run at once
// (19 MiB × 2 on a 2-core machine keeps 1,000 concurrent logins well under
// 256 MiB). One hash takes about 28 ms on a 2-core Xeon and ~150 ms on a
// Pi 3; a higher t would slow every login without stopping an offline
// attacker who holds the file but not the pepper, and the pepper (a
// separate file) is what defeats offline guessing of 4-digit PINs.
type Params struct {
	Memory  uint32 // KiB
	Time    uint32
	Threads uint8
}

// DefaultParams are the parameters new hashes are made with.
var DefaultParams = Params{Memory: 19 * 1024, Time: 2, Threads: 1}

const (
	saltLen = 16
	keyLen  = 32
)

// ErrBusy means no argon2 slot became free before the context ended.
var ErrBusy = errors.New("userstore: too many logins in progress")

// Hasher hashes credentials with argon2id over HMAC-SHA256(pepper, cred),
// running at most a fixed number of hashes at once so that memory stays
// bounded whatever the number of concurrent logins.
type Hasher struct {
	pepper []byte
	params Params
	slots  chan struct{}
}

// MaxConcurrent is the default bound on simultaneous argon2 computations:
// one per CPU, at most 4, at least 1. More would not finish sooner and
// would only hold more memory.
func MaxConcurrent() int {
	n := runtime.GOMAXPROCS(0)
	return max(1, min(n, 4))
}

// NewHasher returns a Hasher using pepper, p, and at most concurrent
// simultaneous hashes.
func NewHasher(pepper []byte, p Params, concurrent int) *Hasher {
	if concurrent < 1 {
		concurrent = 1
	}
	return &Hasher{pepper: pepper, params: p, slots: make(chan struct{}, concurrent)}
}

func (h *Hasher) acquire(ctx context.Context) error {
	select {
	case h.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ErrBusy
	}
}

func (h *Hasher) release() { <-h.slots }

func (h *Hasher) peppered(credential string) []byte {
	m := hmac.New(sha256.New, h.pepper)
	m.Write([]byte(credential))
	return m.Sum(nil)
}

// Hash returns the PHC string of credential with a fresh salt.
func (h *Hasher) Hash(ctx context.Context, credential string) (string, error) {
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	if err := h.acquire(ctx); err != nil {
		return "", err
	}
	defer h.release()
	p := h.params
	key := argon2.IDKey(h.peppered(credential), salt, p.Time, p.Memory, p.Threads, keyLen)
	return formatPHC(p, salt, key), nil
}

// Verify reports whether credential matches the PHC string phc. It always
// does the full argon2 work, and compares in constant time. A malformed phc
// is reported as an error after the same work, so callers cannot be timed.
func (h *Hasher) Verify(ctx context.Context, phc, credential string) (bool, error) {
	p, salt, want, perr := parsePHC(phc)
	if perr != nil {
		p, salt, want = h.params, make([]byte, saltLen), make([]byte, keyLen)
	}
	if err := h.acquire(ctx); err != nil {
		return false, err
	}
	defer h.release()
	got := argon2.IDKey(h.peppered(credential), salt, p.Time, p.Memory, p.Threads, uint32(len(want)))
	ok := subtle.ConstantTimeCompare(got, want) == 1
	if perr != nil {
		return false, perr
	}
	return ok, nil
}

var b64 = base64.RawStdEncoding

func formatPHC(p Params, salt, key []byte) string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.Memory, p.Time, p.Threads, b64.EncodeToString(salt), b64.EncodeToString(key))
}

// parsePHC reads "$argon2id$v=19$m=..,t=..,p=..$salt$hash". It refuses
// parameters weaker than the OWASP floor or absurdly large, so a tampered
// file can neither weaken logins nor exhaust memory.
func parsePHC(s string) (Params, []byte, []byte, error) {
	var p Params
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return p, nil, nil, errors.New("not an argon2id PHC string")
	}
	var v int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &v); err != nil || v != argon2.Version {
		return p, nil, nil, errors.New("unsupported argon2 version")
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.Memory, &p.Time, &p.Threads); err != nil {
		return p, nil, nil, errors.New("bad argon2 parameters")
	}
	if p.Memory < DefaultParams.Memory || p.Memory > 1<<20 || p.Time < DefaultParams.Time || p.Time > 20 || p.Threads < 1 {
		return p, nil, nil, errors.New("argon2 parameters out of range")
	}
	salt, err := b64.DecodeString(parts[4])
	if err != nil || len(salt) < 8 {
		return p, nil, nil, errors.New("bad salt")
	}
	key, err := b64.DecodeString(parts[5])
	if err != nil || len(key) < 16 || len(key) > 64 {
		return p, nil, nil, errors.New("bad hash")
	}
	return p, salt, key, nil
}

// PepperFile is the name of the pepper file in the state directory.
const PepperFile = "pepper"

// LoadOrCreatePepper reads dir/pepper, creating it (32 random bytes, hex,
// mode 0600) on first use. The pepper is kept apart from the users file so
// that a leaked users file alone cannot be attacked offline.
func LoadOrCreatePepper(dir string) ([]byte, error) {
	path := filepath.Join(dir, PepperFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		raw := make([]byte, 32)
		if _, err := rand.Read(raw); err != nil {
			return nil, err
		}
		if err := transport.WriteFileAtomic(path, []byte(hex.EncodeToString(raw)+"\n"), 0o600); err != nil {
			return nil, fmt.Errorf("creating pepper %s: %w", path, err)
		}
		return raw, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading pepper: %w", err)
	}
	raw, err := hex.DecodeString(strings.TrimSpace(string(data)))
	if err != nil || len(raw) < 16 {
		return nil, fmt.Errorf("pepper %s is damaged; restore it from backup (without it no stored passcode can be checked)", path)
	}
	return raw, nil
}
