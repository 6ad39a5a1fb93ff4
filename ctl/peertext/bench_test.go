package peertext

import (
	"strings"
	"testing"
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
