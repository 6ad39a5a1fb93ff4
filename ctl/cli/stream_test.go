package cli

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/pi2pi/pi2pi/ctl/peertext"
)

// TestRuneCarry cuts random text (UTF-8 of 1 to 4 bytes a character,
// escape sequences, and invalid bytes) into random chunks, as a socket
// may: what runeCarry shows is the text, byte for byte, and no piece of
// valid text it shows ends in a character or an escape sequence cut off. The chunk is overwritten after each feed,
// as the stream reader reuses its buffer: a shown piece must have been
// used by then, so the test copies it inside show.
func TestRuneCarry(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 7))
	runes := []rune{'a', '\n', 'é', 'Ж', '中', '😀', 0x10ffff}
	escapes := []string{"\x1b[31m", "\x1b]0;title\x07", "\x1b]2;x\x1b\\", "\x1b(B", "\x1bc"}
	for iter := range 2000 {
		var in []byte
		valid := iter%4 != 0
		for range rng.IntN(64) {
			if !valid && rng.IntN(5) == 0 {
				in = append(in, byte(0x80+rng.IntN(0x80))) // a stray byte
				continue
			}
			if rng.IntN(10) == 0 {
				in = append(in, escapes[rng.IntN(len(escapes))]...)
				continue
			}
			in = utf8.AppendRune(in, runes[rng.IntN(len(runes))])
		}
		var c runeCarry
		var got strings.Builder
		flushing := false
		show := func(s string) {
			if valid && !utf8.ValidString(s) {
				t.Fatalf("seed %d iteration %d: shown %q is cut", seed, iter, s)
			}
			if !flushing && peertext.OpenEscape(s) != len(s) {
				t.Fatalf("seed %d iteration %d: shown %q ends in an open escape sequence", seed, iter, s)
			}
			got.WriteString(strings.Clone(s))
		}
		buf := make([]byte, 8)
		for rest := in; len(rest) > 0; {
			n := min(1+rng.IntN(7), len(rest))
			chunk := buf[:n]
			copy(chunk, rest[:n])
			c.feed(chunk, show)
			for i := range buf {
				buf[i] = 0xff // the reader's next read
			}
			rest = rest[n:]
		}
		flushing = true
		c.flush(show)
		if got.String() != string(in) {
			t.Fatalf("seed %d iteration %d: shown %q, sent %q", seed, iter, got.String(), in)
		}
	}
}
