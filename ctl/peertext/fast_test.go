package peertext

import (
	"math/rand/v2"
	"testing"
	"time"
	"unicode/utf8"
)

// TestSafePrefixParts: the four parts checked side by side find the same
// prefix as one scan from the start, on random text of kept and changed
// characters, invalid bytes and newlines, of every length around the
// parts' edges.
func TestSafePrefixParts(t *testing.T) {
	changedOnce.Do(buildChanged)
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 2))
	kept := []rune{'a', '~', '\t', 'é', 'Ж', '中', '😀', 0x10ffff}
	changed := []rune{'\n', 0x7f, 1, 0x85, 0x200b, 0x202e, 0xe0001, utf8.RuneError}
	for it := range 20000 {
		var b []byte
		for range rng.IntN(300) {
			switch k := rng.IntN(100); {
			case k == 0:
				b = append(b, byte(rng.IntN(256)))
			case k < 3:
				b = utf8.AppendRune(b, changed[rng.IntN(len(changed))])
			default:
				b = utf8.AppendRune(b, kept[rng.IntN(len(kept))])
			}
		}
		for _, nl := range []bool{false, true} {
			if want, got := scanFrom(b, 0, nl), safePrefix4(b, nl); got != want {
				t.Fatalf("seed %d iteration %d: %q (nl %v): %d kept in parts, %d in one scan", seed, it, b, nl, got, want)
			}
		}
	}
}
