package peertext

import (
	"strings"
	"testing"
)

func TestClean(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"plain", "Hello, how are you today?", "Hello, how are you today?"},
		{"utf8 and tab", "héllo\twörld ✓ 日本", "héllo\twörld ✓ 日本"},
		{"title change BEL", "a\x1b]0;pwned\x07b", "ab"},
		{"title change ST", "a\x1b]2;pwned\x1b\\b", "ab"},
		{"OSC 52 clipboard", "x\x1b]52;c;cm0gLXJmIH4=\x07y", "xy"},
		{"cursor moves", "\x1b[2J\x1b[H\x1b[10;20Hhi\x1b[1A", "hi"},
		{"colour", "\x1b[31mred\x1b[0m", "red"},
		{"private mode", "\x1b[?1049hscreen", "screen"},
		{"DCS", "a\x1bPq#0;2;0;0;0\x1b\\b", "ab"},
		{"charset", "\x1b(0lqk", "lqk"},
		{"bare ESC at end", "abc\x1b", "abc"},
		{"ESC c reset", "\x1bcreset", "reset"},
		{"bell and backspace", "ding\x07\b\b", "ding^G^H^H"},
		{"carriage return overwrite", "rm -rf /\rls", "rm -rf /^Mls"},
		{"DEL", "a\x7fb", "a^?b"},
		{"C1 CSI", "a\u009b2Jb", `a\u009b2Jb`},
		{"C1 OSC", "\u009d0;x\u009c", `\u009d0;x\u009c`},
		{"invalid utf8", "a\xffb\x9b[2J", "a\ufffdb\ufffd[2J"},
		{"bidi override", "abc\u202edcba", `abc\u202edcba`},
		{"newline", "a\nb", "a^Jb"},
		{"NUL", "a\x00b", "a^@b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Clean(tt.in)
			if got != tt.want {
				t.Errorf("Clean(%q) = %q, want %q", tt.in, got, tt.want)
			}
			for _, r := range got {
				if (r < 0x20 && r != '\t') || r == 0x7f || (r >= 0x80 && r <= 0x9f) {
					t.Errorf("Clean(%q) kept control character %U", tt.in, r)
				}
			}
		})
	}
}

func FuzzClean(f *testing.F) {
	f.Add("\x1b]0;title\x07")
	f.Add("\x1b[31m\u009b")
	f.Fuzz(func(t *testing.T, s string) {
		for _, r := range Clean(s) {
			if (r < 0x20 && r != '\t') || r == 0x7f || (r >= 0x80 && r <= 0x9f) || isBidiControl(r) {
				t.Fatalf("Clean(%q) kept %U", s, r)
			}
		}
	})
}

func TestLines(t *testing.T) {
	var l Lines
	if got := l.Add("Hel"); len(got) != 0 {
		t.Fatalf("partial chunk gave lines %q", got)
	}
	if !l.Pending() {
		t.Fatal("Pending = false after partial chunk")
	}
	got := l.Add("lo\r\nsecond\nthi")
	if strings.Join(got, "|") != "Hello|second" {
		t.Fatalf("lines = %q", got)
	}
	rest, ok := l.Flush()
	if !ok || rest != "thi" {
		t.Fatalf("Flush = %q, %v", rest, ok)
	}
	if _, ok := l.Flush(); ok {
		t.Fatal("second Flush returned text")
	}
	long := l.Add(strings.Repeat("é", MaxPending))
	if len(long) != 1 || len(long[0]) > MaxPending || strings.ContainsRune(long[0], '\ufffd') {
		t.Fatalf("long line split badly: %d lines, first %d bytes", len(long), len(long[0]))
	}
}
