package wire

import (
	"strings"
	"testing"
)

func TestNormalizeUserID(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"ali", "ali", true},
		{"Ali", "ali", true},
		{"BIANCA", "bianca", true},
		{"a", "a", true},
		{"first.last", "first.last", true},
		{"user_01-x", "user_01-x", true},
		{"...", "...", true},
		{"0", "0", true},
		{strings.Repeat("A", MaxUserID), strings.Repeat("a", MaxUserID), true},
		{"", "", false},
		{strings.Repeat("a", MaxUserID+1), "", false},
		{strings.Repeat("a", 200), "", false},
		{"ali ", "", false},
		{" ali", "", false},
		{"ali\n", "", false},
		{"ali\x00", "", false},
		{"ali\x1b[2J", "", false},
		{"a/b", "", false},
		{"a@b", "", false},
		{"a:b", "", false},
		{"\u00e9lodie", "", false},
		{"\uff41li", "", false}, // fullwidth a
		{"\u212a", "", false},   // Kelvin sign, which ToLower would turn into k
	}
	for _, tc := range tests {
		got, err := NormalizeUserID(tc.in)
		if tc.ok != (err == nil) {
			t.Errorf("NormalizeUserID(%q) error = %v, want ok=%v", tc.in, err, tc.ok)
			continue
		}
		if got != tc.want {
			t.Errorf("NormalizeUserID(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if err != nil && err.Error() == "" {
			t.Errorf("NormalizeUserID(%q): empty error message", tc.in)
		}
	}
}

func TestValidPasscode(t *testing.T) {
	tests := []struct {
		in string
		ok bool
	}{
		{"0", true},
		{"1234", true},
		{"00123", true},
		{strings.Repeat("9", MaxPasscode), true},
		{"", false},
		{strings.Repeat("9", MaxPasscode+1), false},
		{"12a4", false},
		{"A", false},
		{"12 34", false},
		{"1234\n", false},
		{"-1", false},
		{"+1", false},
		{"\u0661\u0662\u0663", false}, // Arabic-Indic digits are not keypad digits
		{"0023dc6bc244d474d2237ab53d256430b14eabe6db", false},
	}
	for _, tc := range tests {
		if got := ValidPasscode(tc.in); got != tc.ok {
			t.Errorf("ValidPasscode(%q) = %v, want %v", tc.in, got, tc.ok)
		}
	}
}
