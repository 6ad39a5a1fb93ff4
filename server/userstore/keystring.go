package userstore

import (
	"encoding/base64"
	"errors"
	"fmt"
	"unicode"
	"unicode/utf8"

	"github.com/pi2pi/pi2pi/internal/wire"
)

// MaxKey and MaxCredential bound a key string and an enrolled credential
// string, in bytes. A LOOKUPREPLY carrying the longest key, escaped, stays
// well under the 4 KiB message limit.
const (
	MaxKey        = wire.MaxFieldText
	MaxCredential = wire.MaxFieldText
)

// keyEncoding writes key strings into the users file: no spaces, no '='.
var keyEncoding = base64.RawURLEncoding

// ValidKey checks a plain-mode key string (the seeds' per-user
// "encryption key", e.g. "crypto" or "no clue"): 1 to MaxKey bytes of
// UTF-8 without control characters, so that it travels in a LOOKUPREPLY
// and prints on any terminal unchanged. Its error never quotes the key.
func ValidKey(key string) error {
	switch {
	case key == "":
		return errors.New("the key is empty")
	case len(key) > MaxKey:
		return fmt.Errorf("the key is longer than %d bytes", MaxKey)
	case !utf8.ValidString(key):
		return errors.New("the key is not valid UTF-8")
	}
	for _, r := range key {
		if unicode.IsControl(r) {
			return errors.New("the key contains a control character (tab, newline, escape, ...)")
		}
	}
	return nil
}

// ValidCredential checks a credential string to enrol as a course
// terminal's exact AUTHREQ passcode: 1 to MaxCredential bytes of UTF-8.
// Its error never quotes the credential.
func ValidCredential(cred string) error {
	switch {
	case cred == "":
		return errors.New("the credential is empty (no terminal could log in with it)")
	case len(cred) > MaxCredential:
		return fmt.Errorf("the credential is longer than %d bytes", MaxCredential)
	case !utf8.ValidString(cred):
		return errors.New("the credential is not valid UTF-8")
	}
	return nil
}

// decodeKey reads the key= attribute of a users file line; "" is no key.
func decodeKey(v string) (string, error) {
	raw, err := keyEncoding.DecodeString(v)
	if err != nil {
		return "", errors.New("not base64url")
	}
	if len(raw) == 0 {
		return "", nil
	}
	if err := ValidKey(string(raw)); err != nil {
		return "", err
	}
	return string(raw), nil
}
