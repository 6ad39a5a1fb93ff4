package peertext

import (
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"
)

// Clean and Text are on the path of every chat line pi2pictl shows.
var (
	benchASCII = strings.Repeat("the quick brown fox jumps over the lazy dog 0123456789. ", 20)
	benchMixed = strings.Repeat("Grüße aus Köln, 日本語のテキスト, emoji 👩\u200d💻 ok. ", 20)
)

func BenchmarkCleanASCII(b *testing.B) {
	b.SetBytes(int64(len(benchASCII)))
	for b.Loop() {
		Clean(benchASCII)
	}
}

func BenchmarkCleanMixed(b *testing.B) {
	b.SetBytes(int64(len(benchMixed)))
	for b.Loop() {
		Clean(benchMixed)
	}
}

func BenchmarkTextMixed(b *testing.B) {
	s := benchMixed + "\n" + benchMixed + "\n"
	b.SetBytes(int64(len(s)))
	for b.Loop() {
		Text(s)
	}
}

// A chunk of a file transfer: lines of text that Text keeps as they are,
// ASCII and other scripts, as pi2pictl in a script shows it.
var (
	benchKeptASCII = strings.Repeat("the quick brown fox jumps over the lazy dog 0123456789.\n", 1200)[:64<<10]
	benchKeptMixed = strings.Repeat("Grüße aus Köln, 日本語のテキスト, Ελληνικά, кириллица 😀.\n", 740)
)

func BenchmarkTextKeptASCII(b *testing.B) {
	b.SetBytes(int64(len(benchKeptASCII)))
	for b.Loop() {
		if Text(benchKeptASCII) != benchKeptASCII {
			b.Fatal("changed")
		}
	}
}

func BenchmarkTextKeptMixed(b *testing.B) {
	b.SetBytes(int64(len(benchKeptMixed)))
	for b.Loop() {
		if Text(benchKeptMixed) != benchKeptMixed {
			b.Fatal("changed")
		}
	}
}

// keptRunes are the characters of the e2e file benchmark's text: ASCII,
// Latin, Greek, Cyrillic, CJK and emoji that Clean keeps.
func keptRunes() []rune {
	var rs []rune
	for _, rg := range [][2]rune{{0x20, 0x7e}, {0xc0, 0x17f}, {0x391, 0x3c9}, {0x410, 0x44f}, {0x4e00, 0x4e80}, {0x1f600, 0x1f64f}} {
		for r := rg[0]; r <= rg[1]; r++ {
			if s := string(r); Clean(s) == s {
				rs = append(rs, r)
			}
		}
	}
	return rs
}

// benchKeptRandom is like the e2e file benchmark's text: random lines of
// ASCII, Latin, Greek, Cyrillic, CJK and emoji.
var benchKeptRandom = func() string {
	rng := rand.New(rand.NewPCG(1, 2))
	rs := keptRunes()
	var b strings.Builder
	for b.Len() < 64<<10-1000 {
		for range rng.IntN(60) {
			b.WriteRune(rs[rng.IntN(len(rs))])
		}
		b.WriteByte('\n')
	}
	return b.String()
}()

func BenchmarkTextKeptRandom(b *testing.B) {
	b.SetBytes(int64(len(benchKeptRandom)))
	for b.Loop() {
		if Text(benchKeptRandom) != benchKeptRandom {
			b.Fatal("changed")
		}
	}
}

// benchKeptFile is built exactly like the text of the e2e file benchmark
// (BenchmarkChatFile): lines of 0 to 200 bytes of those characters, each
// with its newline, 1 MiB, a fixed seed.
var benchKeptFile = func() string {
	rng := rand.New(rand.NewPCG(1, 2))
	rs := keptRunes()
	var b strings.Builder
	for b.Len() < 1<<20 {
		n := rng.IntN(201)
		start := b.Len()
		for b.Len()-start < n {
			r := rs[rng.IntN(len(rs))]
			if b.Len()-start+utf8.RuneLen(r) > n {
				break
			}
			b.WriteRune(r)
		}
		b.WriteByte('\n')
	}
	return b.String()
}()

func BenchmarkTextKeptFile(b *testing.B) {
	b.SetBytes(int64(len(benchKeptFile)))
	for b.Loop() {
		if Text(benchKeptFile) != benchKeptFile {
			b.Fatal("changed")
		}
	}
}
