package wire

import (
	"fmt"
	"strings"
)

// NormalizeUserID checks that s is a valid user ID (1–32 characters of
// [A-Za-z0-9._-]) and returns it in lower case. User IDs are matched
// case-insensitively because course peers send "Ali".
func NormalizeUserID(s string) (string, error) {
	if len(s) == 0 {
		return "", fmt.Errorf("user ID is empty")
	}
	if len(s) > MaxUserID {
		return "", fmt.Errorf("user ID is longer than %d characters", MaxUserID)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-'
		if !ok {
			return "", fmt.Errorf("user ID may only hold letters, digits, '.', '_' and '-'")
		}
	}
	return strings.ToLower(s), nil
}

// ValidPasscode reports whether s is 1–32 keypad digits.
func ValidPasscode(s string) bool {
	if len(s) == 0 || len(s) > MaxPasscode {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
