package keypad

import (
	"errors"
	"fmt"
	"strings"
)

// Key is one key of a keypad: '0'-'9', 'A'-'F' (hex keypads), '*' or '#'.
//
// Key deliberately has no String method: a key is a passcode digit more often
// than not, and a formatted Key in a log line would leak it.
type Key byte

// Valid reports whether k is a key that some supported keypad has.
func (k Key) Valid() bool {
	return k >= '0' && k <= '9' || k >= 'A' && k <= 'F' || k == '*' || k == '#'
}

// Meaning keys are what pi2pictl's console keypad sends: what a key means
// rather than which key it is, so which letter means Enter is the key
// map's business alone. No hardware keypad has them and no key map can name
// them (Valid is false); ReadPasscode honours them under every map.
const (
	Enter     Key = '\r'
	Backspace Key = '\b'
	Cancel    Key = 0x18
)

// IsDigit reports whether k is one of the passcode digits '0'-'9'.
func (k Key) IsDigit() bool { return k >= '0' && k <= '9' }

// ParseKey parses one key as pi2pictl sends it: "0"-"9", "A"-"F" (either
// case), "*" or "#".
func ParseKey(s string) (Key, error) {
	if len(s) != 1 {
		return 0, fmt.Errorf("keypad: a key is one character (0-9, A-F, * or #), got %d characters", len(s))
	}
	k := Key(s[0])
	if k >= 'a' && k <= 'f' {
		k -= 'a' - 'A'
	}
	if !k.Valid() {
		return 0, errors.New("keypad: not a keypad key: use 0-9, A-F, * or #")
	}
	return k, nil
}

// Map says which keys end, edit and abandon a passcode entry. A zero
// Backspace or Cancel means the keypad has no such key.
type Map struct {
	Enter, Backspace, Cancel Key
}

// DefaultMap is the map of the standard 4×4 membrane keypad (the newer course handout):
// A = Enter & validate, B = Backspace, C = Cancel.
var DefaultMap = Map{Enter: 'A', Backspace: 'B', Cancel: 'C'}

// LegacyHexMap is the older course handout's map for a hex keypad:
// F = Enter & validate, A = Backspace, B = Cancel.
var LegacyHexMap = Map{Enter: 'F', Backspace: 'A', Cancel: 'B'}

// ParseMap parses a key map: "default", "legacy-hex", or a comma-separated
// list of role=key pairs such as "enter=A,backspace=B,cancel=C". Roles left
// out keep their DefaultMap key; "none" removes backspace or cancel.
func ParseMap(s string) (Map, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "default":
		return DefaultMap, nil
	case "legacy-hex", "legacy_hex":
		return LegacyHexMap, nil
	}
	m := DefaultMap
	seen := map[string]bool{}
	for _, field := range strings.Split(s, ",") {
		role, val, ok := strings.Cut(field, "=")
		role = strings.ToLower(strings.TrimSpace(role))
		val = strings.TrimSpace(val)
		if !ok {
			return Map{}, fmt.Errorf("keypad: key map entry %q is not role=key: use e.g. enter=A,backspace=B,cancel=C, default or legacy-hex", field)
		}
		if seen[role] {
			return Map{}, fmt.Errorf("keypad: key map names %q twice", role)
		}
		seen[role] = true
		var k Key
		if !strings.EqualFold(val, "none") {
			var err error
			if k, err = ParseKey(val); err != nil {
				return Map{}, fmt.Errorf("keypad: key map %s=%s: %s", role, val, strings.TrimPrefix(err.Error(), "keypad: "))
			}
		}
		switch role {
		case "enter":
			m.Enter = k
		case "backspace":
			m.Backspace = k
		case "cancel":
			m.Cancel = k
		default:
			return Map{}, fmt.Errorf("keypad: unknown key map role %q: use enter, backspace or cancel", role)
		}
	}
	if err := m.Validate(); err != nil {
		return Map{}, err
	}
	return m, nil
}

// Validate checks that m has an Enter key, that no role is a digit, and that
// no two roles share a key.
func (m Map) Validate() error {
	if m.Enter == 0 {
		return errors.New("keypad: the key map needs an enter key")
	}
	roles := []struct {
		name string
		k    Key
	}{{"enter", m.Enter}, {"backspace", m.Backspace}, {"cancel", m.Cancel}}
	for i, r := range roles {
		if r.k == 0 {
			continue
		}
		if !r.k.Valid() {
			return fmt.Errorf("keypad: key map %s is not a keypad key", r.name)
		}
		if r.k.IsDigit() {
			return fmt.Errorf("keypad: key map %s is a digit: digits are for the passcode, use A-F, * or #", r.name)
		}
		for _, o := range roles[:i] {
			if o.k == r.k {
				return fmt.Errorf("keypad: key map gives %s and %s the same key %c", o.name, r.name, r.k)
			}
		}
	}
	return nil
}

// String returns m in the form ParseMap reads, e.g.
// "enter=A,backspace=B,cancel=C".
func (m Map) String() string {
	name := func(k Key) string {
		if k == 0 {
			return "none"
		}
		return string(rune(k))
	}
	return "enter=" + name(m.Enter) + ",backspace=" + name(m.Backspace) + ",cancel=" + name(m.Cancel)
}

// CheckLayout checks that every key of m is on layout l, so that a passcode
// entry on that keypad can be finished (and edited and abandoned).
func (m Map) CheckLayout(l Layout) error {
	for _, r := range []struct {
		name string
		k    Key
	}{{"enter", m.Enter}, {"backspace", m.Backspace}, {"cancel", m.Cancel}} {
		if r.k != 0 && !l.Has(r.k) {
			return fmt.Errorf("keypad: the %s key %c is not on the keypad layout %s: choose another key map or layout", r.name, r.k, l)
		}
	}
	return nil
}
