// Package credential turns keypad digits into the string a pi2pi terminal
// sends as the AUTHREQ passcode.
//
// The course handouts ask for the passcode to be "salted and hashed" with SHA-256. We
// salt with a fixed domain string and the lower-case user ID, so one PIN
// hashes differently for each user and for each system that uses another
// domain:
//
//	hex(SHA-256("pi2pi-passcode-v1" || 0x00 || lower(userid) || 0x00 || digits))
//
// This is not what protects the PIN: a 4-digit PIN falls to a SHA-256
// search in microseconds. The TLS tunnel keeps the string off the network,
// and the server stores only argon2id hashes of it with a pepper.
package credential

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// Domain separates pi2pi passcode hashes from any other use of SHA-256.
const Domain = "pi2pi-passcode-v1"

// FromDigits returns the credential string for userid and the keypad digits.
func FromDigits(userid string, digits []byte) string {
	h := sha256.New()
	h.Write([]byte(Domain))
	h.Write([]byte{0})
	h.Write([]byte(strings.ToLower(userid)))
	h.Write([]byte{0})
	h.Write(digits)
	return hex.EncodeToString(h.Sum(nil))
}
