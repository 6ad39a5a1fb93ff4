package transport

import (
	"errors"
	"fmt"
	"math/big"
	"strings"
)

// SafetyCodeLabel is the TLS exporter label (RFC 8446 §7.5) of the safety
// code.
const SafetyCodeLabel = "EXPORTER-pi2pi-safety-code"

// SafetyCodeDigits is the length of a safety code: twenty decimal digits,
// about 66 bits, read aloud in five groups of four.
const SafetyCodeDigits = 20

// SafetyCode returns the safety code of this connection, the same on both
// ends, for two people to compare by voice. It is derived from the TLS
// session itself (a keying-material exporter), not from the long-term
// keys: a man in the middle holds two TLS sessions, one with each victim,
// and their exporter values are independent and fixed only once each
// handshake is done, by randomness both victims contribute. To make the
// two codes match he would have to find, during one handshake and for a
// target he cannot choose, a second session with the same 66-bit code;
// no search over keys done beforehand helps him (the birthday search that
// forged the old 12-digit code over the two keys does not apply).
//
// It fails in plain mode, where there is no session to bind to.
func (c *Conn) SafetyCode() (string, error) {
	if c.tls == nil {
		return "", errors.New("plain connections have no safety code")
	}
	cs := c.tls.ConnectionState()
	if !cs.HandshakeComplete {
		return "", errors.New("no safety code before the TLS handshake")
	}
	km, err := cs.ExportKeyingMaterial(SafetyCodeLabel, nil, 16)
	if err != nil {
		return "", fmt.Errorf("deriving the safety code: %w", err)
	}
	return formatSafetyCode(km), nil
}

// formatSafetyCode turns 16 bytes (128 bits) into SafetyCodeDigits decimal
// digits (the bias of the reduction is below 2^-60) in groups of four.
func formatSafetyCode(km []byte) string {
	mod := new(big.Int).Exp(big.NewInt(10), big.NewInt(SafetyCodeDigits), nil)
	n := new(big.Int).Mod(new(big.Int).SetBytes(km), mod)
	s := fmt.Sprintf("%0*s", SafetyCodeDigits, n.String())
	var groups []string
	for i := 0; i < len(s); i += 4 {
		groups = append(groups, s[i:i+4])
	}
	return strings.Join(groups, " ")
}
