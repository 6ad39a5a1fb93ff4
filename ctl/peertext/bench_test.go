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
