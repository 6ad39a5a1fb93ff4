package jsontext

import (
	"encoding/json"
	"strings"
	"testing"
)

// marshal is how encoding/json writes s, with or without HTML escaping.
func marshal(s string, html bool) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(html)
	_ = enc.Encode(s)
	return strings.TrimSuffix(b.String(), "\n")
}

var stringSeeds = []string{
	"", "ali", `a"b\c`, "\x00\x01\b\f\n\r\t\x1f\x7f", "<>&", "é😀", "\u2028\u2029", "\xff\xfe", "a\xc3", "\xed\xa0\x80",
	"Hello, are you there?\n", "\x1b[31m<script>&\u2028\u2029\xff\xc3\"\\/\b\f\r\t\x00\x7f é 😀",
	strings.Repeat("plain text, 8 bytes at a time ", 10) + "<&>" + strings.Repeat("x", 17),
}

func checkString(t *testing.T, s string) {
	t.Helper()
	if got, want := string(AppendString(nil, s)), marshal(s, true); got != want {
		t.Fatalf("AppendString(%q) = %s, encoding/json %s", s, got, want)
	}
	if got, want := string(AppendStringNoEscapeHTML(nil, s)), marshal(s, false); got != want {
		t.Fatalf("AppendStringNoEscapeHTML(%q) = %s, encoding/json %s", s, got, want)
	}
	if got := string(AppendString([]byte("x:"), s)); !strings.HasPrefix(got, "x:\"") {
		t.Fatalf("AppendString did not append to its buffer: %q", got)
	}
}

func TestAppendStringMatchesEncodingJSON(t *testing.T) {
	for _, s := range stringSeeds {
		checkString(t, s)
	}
	// Every byte value at every position of a word, so that the
	// word-at-a-time scan meets each one at each offset.
	for c := range 256 {
		for pos := range 16 {
			b := []byte(strings.Repeat("a", 20))
			b[pos] = byte(c)
			checkString(t, string(b))
		}
	}
}

// FuzzAppendString: both encoders write strings exactly as encoding/json
// does (the golden bytes of the wire protocol depend on it).
func FuzzAppendString(f *testing.F) {
	for _, s := range stringSeeds {
		f.Add(s)
	}
	f.Fuzz(checkString)
}

func TestPlainEnd(t *testing.T) {
	for c := range 256 {
		for pos := range 16 {
			b := []byte(strings.Repeat("é", 10))
			b[pos] = byte(c)
			want := 0
			for want < len(b) && (b[want] >= 0x20 && b[want] != '"' && b[want] != '\\') {
				want++
			}
			if got := PlainEnd(b, 0); got != want {
				t.Fatalf("PlainEnd with %#x at %d = %d, want %d", c, pos, got, want)
			}
			if from := pos / 2; from <= want {
				if got := PlainEnd(b, from); got != want {
					t.Fatalf("PlainEnd from %d with %#x at %d = %d, want %d", from, c, pos, got, want)
				}
			}
		}
	}
}

// TestRuns checks the word-at-a-time scans against byte-wise ones for
// every byte value at every position of a word.
func TestRuns(t *testing.T) {
	for c := range 256 {
		for pos := range 16 {
			b := []byte(strings.Repeat("a", 20))
			b[pos] = byte(c)
			s := string(b)
			for _, html := range []bool{false, true} {
				safe := &safeASCII
				if html {
					safe = &safeASCIIHTML
				}
				wantSafe := 0
				for wantSafe < len(s) && safe[s[wantSafe]] {
					wantSafe++
				}
				if got := safeRun(s, 0, html); got > wantSafe || got < wantSafe-7 || got%8 != 0 {
					t.Fatalf("safeRun(html %v) with %#x at %d = %d, first unsafe byte at %d", html, c, pos, got, wantSafe)
				}
			}
			wantPlain := 0
			for wantPlain < len(b) && plainInString[b[wantPlain]] {
				wantPlain++
			}
			if got := plainRun(b, 0); got > wantPlain || got < wantPlain-7 || got%8 != 0 {
				t.Fatalf("plainRun with %#x at %d = %d, first special byte at %d", c, pos, got, wantPlain)
			}
		}
	}
}

func BenchmarkAppendString(b *testing.B) {
	text := strings.Repeat("Hello, are you there? ", 3000)[:64<<10]
	for _, html := range []bool{true, false} {
		name := "EscapeHTML"
		if !html {
			name = "NoEscapeHTML"
		}
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(text)))
			var buf []byte
			for range b.N {
				buf = appendString(buf[:0], text, html)
			}
		})
	}
}
