package passcode

import (
	"errors"
	"strings"
	"testing"

	"github.com/pi2pi/pi2pi/internal/control"
)

func join(keys []control.Key) string {
	s := make([]string, len(keys))
	for i, k := range keys {
		s[i] = string(k)
	}
	return strings.Join(s, ",")
}

func TestFromLine(t *testing.T) {
	tests := []struct {
		in      string
		want    string
		wantErr bool
	}{
		{"1234\n", "1,2,3,4,enter", false},
		{"12 34\r\n", "1,2,3,4,enter", false},
		{"", "", true},
		{"\n", "", true},
		{"12a4\n", "", true},
	}
	for _, tt := range tests {
		keys, err := FromLine(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("FromLine(%q) error = %v", tt.in, err)
			continue
		}
		if got := join(keys); got != tt.want {
			t.Errorf("FromLine(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

// reader yields its input one byte per Read, like a terminal in key mode;
// more reports whether bytes of the current burst remain.
type reader struct {
	bursts []string
}

func (r *reader) Read(p []byte) (int, error) {
	for len(r.bursts) > 0 && r.bursts[0] == "" {
		r.bursts = r.bursts[1:]
	}
	if len(r.bursts) == 0 {
		return 0, errors.New("eof")
	}
	p[0] = r.bursts[0][0]
	r.bursts[0] = r.bursts[0][1:]
	return 1, nil
}

func (r *reader) more() bool { return len(r.bursts) > 0 && r.bursts[0] != "" }

func TestReadKeys(t *testing.T) {
	tests := []struct {
		name   string
		bursts []string
		want   string
		err    error
	}{
		{"enter", []string{"1", "2", "\r"}, "1,2,enter", nil},
		{"A validates", []string{"9", "a"}, "9,enter", nil},
		{"backspace keys", []string{"1", "\x7f", "b", "B", "\b", "5", "A"}, "1,backspace,backspace,backspace,backspace,5,enter", nil},
		{"arrow keys ignored", []string{"1", "\x1b[D", "\x1bOA", "2", "\n"}, "1,2,enter", nil},
		{"bare esc cancels", []string{"1", "\x1b"}, "1,cancel", ErrCancelled},
		{"ctrl-c cancels", []string{"1", "\x03"}, "1,cancel", ErrCancelled},
		{"C cancels", []string{"c"}, "cancel", ErrCancelled},
		{"others ignored", []string{"x", "*", "#", " ", "7", "\r"}, "7,enter", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &reader{bursts: append([]string(nil), tt.bursts...)}
			var got []control.Key
			err := ReadKeys(r, r.more, func(k control.Key) error { got = append(got, k); return nil })
			if !errors.Is(err, tt.err) {
				t.Fatalf("err = %v, want %v", err, tt.err)
			}
			if join(got) != tt.want {
				t.Fatalf("keys = %v, want %s", got, tt.want)
			}
		})
	}
}
