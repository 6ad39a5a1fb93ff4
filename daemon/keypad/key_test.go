package keypad_test

import (
	"testing"

	"github.com/pi2pi/pi2pi/daemon/keypad"
)

func TestParseKey(t *testing.T) {
	for _, s := range []string{"0", "9", "A", "d", "f", "*", "#"} {
		if _, err := keypad.ParseKey(s); err != nil {
			t.Errorf("ParseKey(%q): %v", s, err)
		}
	}
	for _, s := range []string{"", "G", "12", " ", "\x00", "é"} {
		if k, err := keypad.ParseKey(s); err == nil {
			t.Errorf("ParseKey(%q) = %d, want an error", s, k)
		}
	}
	if k, _ := keypad.ParseKey("b"); k != 'B' {
		t.Errorf("ParseKey(b) = %d, want B", k)
	}
}

func TestParseMap(t *testing.T) {
	tests := []struct {
		in   string
		want keypad.Map
		ok   bool
	}{
		{"default", keypad.DefaultMap, true},
		{"", keypad.DefaultMap, true},
		{"legacy-hex", keypad.LegacyHexMap, true},
		{"LEGACY-HEX", keypad.LegacyHexMap, true},
		{"enter=A,backspace=B,cancel=C", keypad.DefaultMap, true},
		{"enter=f,backspace=a,cancel=b", keypad.LegacyHexMap, true},
		{" enter = # , backspace = * , cancel = D ", keypad.Map{Enter: '#', Backspace: '*', Cancel: 'D'}, true},
		{"enter=D", keypad.Map{Enter: 'D', Backspace: 'B', Cancel: 'C'}, true},
		{"enter=#,backspace=none,cancel=none", keypad.Map{Enter: '#'}, true},
		{"enter=B", keypad.Map{}, false},    // clashes with the default backspace
		{"enter=1", keypad.Map{}, false},    // a digit
		{"enter=none", keypad.Map{}, false}, // no enter
		{"enter=A,enter=B", keypad.Map{}, false},
		{"submit=A", keypad.Map{}, false},
		{"enter", keypad.Map{}, false},
		{"enter=G", keypad.Map{}, false},
		{"enter=AB", keypad.Map{}, false},
		{"hex", keypad.Map{}, false},
	}
	for _, tt := range tests {
		got, err := keypad.ParseMap(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseMap(%q) = %+v, %v; want %+v, ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func TestMapString(t *testing.T) {
	if got := keypad.DefaultMap.String(); got != "enter=A,backspace=B,cancel=C" {
		t.Errorf("DefaultMap.String() = %q", got)
	}
	m := keypad.Map{Enter: '#'}
	if got, err := keypad.ParseMap(m.String()); err != nil || got != m {
		t.Errorf("ParseMap(%q) = %+v, %v; want %+v", m.String(), got, err, m)
	}
}

func FuzzParseMap(f *testing.F) {
	for _, s := range []string{"default", "legacy-hex", "enter=A,backspace=B,cancel=C",
		"enter=#,backspace=none", "enter=1", "enter=A,enter=B", ",,=", "cancel=*,enter=d"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := keypad.ParseMap(s)
		if err != nil {
			return
		}
		if err := m.Validate(); err != nil {
			t.Fatalf("ParseMap(%q) = %+v, which is invalid: %v", s, m, err)
		}
		again, err := keypad.ParseMap(m.String())
		if err != nil || again != m {
			t.Fatalf("ParseMap(%q) = %+v, but ParseMap(%q) = %+v, %v", s, m, m.String(), again, err)
		}
	})
}

func TestMapCheckLayout(t *testing.T) {
	if err := keypad.DefaultMap.CheckLayout(keypad.DefaultLayout); err != nil {
		t.Error(err)
	}
	if err := keypad.LegacyHexMap.CheckLayout(keypad.HexLayout); err != nil {
		t.Error(err)
	}
	if err := keypad.LegacyHexMap.CheckLayout(keypad.DefaultLayout); err == nil {
		t.Error("LegacyHexMap fits the default layout, which has no F")
	}
	small, _ := keypad.ParseLayout("123/456/789/*0#")
	if err := (keypad.Map{Enter: '#', Cancel: '*'}).CheckLayout(small); err != nil {
		t.Error(err)
	}
	if err := keypad.DefaultMap.CheckLayout(small); err == nil {
		t.Error("DefaultMap fits a layout without A, B and C")
	}
}
