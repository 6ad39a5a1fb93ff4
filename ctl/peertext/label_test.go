package peertext

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// TestInvisibleCharactersAreDropped: characters that take no room on the
// screen let a peer hide or fake text; none of them survives Clean.
func TestInvisibleCharactersAreDropped(t *testing.T) {
	invisible := []rune{0x200b, 0x200c, 0x200d, 0x2060, 0x2061, 0x2064, 0xfeff, 0x00ad,
		0x2028, 0x2029, 0xfff9, 0xfffa, 0xfffb, 0xe0000, 0xe0001, 0xe0041, 0xe007f}
	for _, r := range invisible {
		in := "Conn" + string(r) + "ection ended"
		if got := Clean(in); got != "Connection ended" {
			t.Errorf("Clean(%q) = %q: %U was kept", in, got, r)
		}
	}
	// Visible neighbours are kept.
	for _, s := range []string{"é", "✓", "日本", "\u00a0", "\u200a", "\u2065", "\ufff8", "\ufffc"} {
		if got := Clean(s); got != s {
			t.Errorf("Clean(%q) = %q", s, got)
		}
	}
}

// TestTextCleansEveryLine: Text, which pi2pictl's screen applies to all
// it prints, cleans each line and keeps the line breaks.
func TestTextCleansEveryLine(t *testing.T) {
	in := "bianca's terminal refused the chat (\x1b]52;c;cm0gLXJmIH4=\x07\x1b]0;pwned\x07\x1b[2J\x1b[H)\nsecond \u202eline\u200b\n"
	want := "bianca's terminal refused the chat ()\nsecond \\u202eline\n"
	if got := Text(in); got != want {
		t.Fatalf("Text = %q, want %q", got, want)
	}
	if got := Text("plain\ttext\n"); got != "plain\ttext\n" {
		t.Fatalf("Text changed plain text: %q", got)
	}
}

// TestLabelOnEveryLine: with Peer set, every line Lines returns starts
// with the label, whether the peer sent whole lines, chunks without a
// newline (shown after a pause by Flush), or a line longer than
// MaxPending; so a peer's "Connection ended" or "Login: " never looks
// like pi2pictl's own line.
func TestLabelOnEveryLine(t *testing.T) {
	l := Lines{Peer: "bianca"}
	var got []string
	got = append(got, l.Add("Connection ended\nLogin: ")...)
	if rest, ok := l.Flush(); ok {
		got = append(got, rest) // the pause after a chunk without newline
	}
	got = append(got, l.Add("ali\n")...)
	got = append(got, l.Add("\u2028Enter passcode on keypad.\r\n")...)
	got = append(got, l.Add(strings.Repeat("x", MaxPending+10))...)
	want := []string{"bianca> Connection ended", "bianca> Login: ", "bianca> ali", "bianca> Enter passcode on keypad."}
	for i, w := range want {
		if i >= len(got) || got[i] != w {
			t.Fatalf("lines %q, want %q first", got, want)
		}
	}
	for _, g := range got {
		if !strings.HasPrefix(g, "bianca> ") {
			t.Errorf("line %q lacks the label", g)
		}
	}
}

// TestLabelOnEveryRow: a line too long for the terminal is broken into
// rows that each carry the label, so padding cannot push text of the
// peer's choosing to the start of a row.
func TestLabelOnEveryRow(t *testing.T) {
	l := Lines{Peer: "bianca", Width: func() int { return 40 }}
	pad := strings.Repeat(" ", 31-len("bianca> ")) // fills the first row
	got := l.Add(pad + "Connection ended\n" + strings.Repeat("日本\t", 20) + "\n")
	var rows []string
	for _, g := range got {
		rows = append(rows, strings.Split(g, "\n")...)
	}
	if len(rows) < 3 {
		t.Fatalf("rows %q: the long lines were not broken", rows)
	}
	for _, r := range rows {
		if !strings.HasPrefix(r, "bianca> ") {
			t.Errorf("row %q lacks the label", r)
		}
		cols := 0
		for _, c := range r {
			switch {
			case c == '\t':
				cols += 8 - cols%8
			case c >= 0x80:
				cols += 2
			default:
				cols++
			}
		}
		if cols >= 40 {
			t.Errorf("row %q takes %d columns of 40: the terminal would wrap it", r, cols)
		}
		if !utf8.ValidString(r) {
			t.Errorf("row %q is not valid UTF-8", r)
		}
	}
}
