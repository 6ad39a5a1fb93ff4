package keypad_test

import (
	"testing"

	"github.com/pi2pi/pi2pi/daemon/keypad"
)

func TestParseLayout(t *testing.T) {
	tests := []struct {
		in         string
		want       string // String() of the result; "" for an error
		rows, cols int
	}{
		{"default", "123A/456B/789C/*0#D", 4, 4},
		{"", "123A/456B/789C/*0#D", 4, 4},
		{"hex", "123A/456B/789C/0FED", 4, 4},
		{"123/456/789/*0#", "123/456/789/*0#", 4, 3},
		{"1 2 3 a / 4 5 6 b", "123A/456B", 2, 4},
		{"5", "5", 1, 1},
		{"12345678/9ABCDEF*", "12345678/9ABCDEF*", 2, 8},
		{"123/45", "", 0, 0},            // ragged
		{"123//456", "", 0, 0},          // empty row
		{"112/345", "", 0, 0},           // duplicate key
		{"12G", "", 0, 0},               // not a key
		{"123456789", "", 0, 0},         // too wide
		{"1/2/3/4/5/6/7/8/9", "", 0, 0}, // too tall
		{"/", "", 0, 0},
	}
	for _, tt := range tests {
		l, err := keypad.ParseLayout(tt.in)
		if tt.want == "" {
			if err == nil {
				t.Errorf("ParseLayout(%q) = %s, want an error", tt.in, l)
			}
			continue
		}
		if err != nil || l.String() != tt.want || l.Rows() != tt.rows || l.Cols() != tt.cols {
			t.Errorf("ParseLayout(%q) = %s (%dx%d), %v; want %s (%dx%d)", tt.in, l, l.Rows(), l.Cols(), err, tt.want, tt.rows, tt.cols)
		}
	}
}

func TestLayoutZeroIsDefault(t *testing.T) {
	var l keypad.Layout
	if l.String() != keypad.DefaultLayout.String() || l.Key(3, 1) != '0' || !l.Has('D') || l.Has('F') {
		t.Errorf("zero Layout = %s, want the default layout", l)
	}
	if keypad.HexLayout.Key(3, 1) != 'F' {
		t.Errorf("HexLayout.Key(3, 1) = %c, want F", keypad.HexLayout.Key(3, 1))
	}
}

func FuzzParseLayout(f *testing.F) {
	for _, s := range []string{"default", "hex", "123A/456B/789C/*0#D", "123/45", "1 2/3 4", "//", "aa", "12345678"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		l, err := keypad.ParseLayout(s)
		if err != nil {
			return
		}
		if l.Rows() < 1 || l.Rows() > keypad.MaxLines || l.Cols() < 1 || l.Cols() > keypad.MaxLines {
			t.Fatalf("ParseLayout(%q) is %dx%d", s, l.Rows(), l.Cols())
		}
		seen := map[keypad.Key]bool{}
		for r := 0; r < l.Rows(); r++ {
			for c := 0; c < l.Cols(); c++ {
				k := l.Key(r, c)
				if !k.Valid() || seen[k] {
					t.Fatalf("ParseLayout(%q) has a bad or repeated key at %d,%d", s, r, c)
				}
				seen[k] = true
			}
		}
		again, err := keypad.ParseLayout(l.String())
		if err != nil || again.String() != l.String() {
			t.Fatalf("ParseLayout(%q) = %s, which parses as %s, %v", s, l, again, err)
		}
	})
}
