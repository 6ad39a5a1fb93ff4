package userstore

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// TestParseImportRefusesInvalidUTF8: encoding/json would turn Latin-1
// bytes and lone surrogate escapes into U+FFFD, so that two different keys
// become one; each such entry is reported instead, by line and user ID,
// without quoting its credential or key.
func TestParseImportRefusesInvalidUTF8(t *testing.T) {
	file := "{\n" +
		"\"lat1\": [\"4242\", \"cl\xe9\"],\n" +
		"\"lat2\": [\"4343\", \"cl\xe8\"],\n" +
		"\"lat3\": [\"p\xe9\", \"k\"],\n" +
		"\"sur1\": [\"4444\", \"x\\ud800y\"],\n" +
		"\"sur2\": [\"\\udc00\", \"k\"],\n" +
		"\"sur3\": \"ab\\ud83d\",\n" +
		"\"sur4\": [\"1\", \"\\ud83d\\u0041\"],\n" +
		"\"b\xe9a\": [\"1\", \"k\"],\n" +
		"\"x\\ud800\": [\"1\", \"k\"],\n" +
		"\"pair\": [\"1\", \"\\ud83d\\ude00 \\\\ud800 \\uFFFD \xef\xbf\xbd\"],\n" +
		"\"ok\": [\"\\\\udc00\", \"k\\u00e9y\"]\n" +
		"}\n"
	entries, problems, err := ParseImport([]byte(file))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 2 || entries[0].Name != "pair" || entries[1].Name != "ok" {
		t.Errorf("good entries = %+v, want pair and ok", entries)
	} else {
		if want := "\U0001F600 \\ud800 \uFFFD \uFFFD"; entries[0].Key != want {
			t.Errorf("pair's key = %q, want %q", entries[0].Key, want)
		}
		if entries[1].Credential != `\udc00` || entries[1].Key != "kéy" {
			t.Errorf("ok = %+v", entries[1])
		}
	}
	want := []struct {
		line int
		id   string
		msg  string
	}{
		{2, "lat1", "bad key: the key is not valid UTF-8"},
		{3, "lat2", "bad key: the key is not valid UTF-8"},
		{4, "lat3", "bad credential: the credential is not valid UTF-8"},
		{5, "sur1", "bad key: the key holds a lone UTF-16 surrogate"},
		{6, "sur2", "bad credential: the credential holds a lone UTF-16 surrogate"},
		{7, "sur3", "bad credential: the credential holds a lone UTF-16 surrogate"},
		{8, "sur4", "bad key: the key holds a lone UTF-16 surrogate"},
		{9, "b\xe9a", "bad user ID: the user ID is not valid UTF-8"},
		{10, `x\ud800`, "bad user ID: the user ID holds a lone UTF-16 surrogate"},
	}
	if len(problems) != len(want) {
		t.Errorf("%d problems, want %d:\n%s", len(problems), len(want), problemList(problems))
	}
	for i, w := range want {
		if i >= len(problems) {
			break
		}
		p := problems[i]
		if p.Line != w.line || p.ID != w.id || !strings.Contains(p.Msg, w.msg) {
			t.Errorf("problem %d = %s, want line %d %q: ...%s...", i, p, w.line, w.id, w.msg)
		}
	}
	all := problemList(problems)
	for _, secret := range []string{"4242", "4343", "cl", "p\xe9", `p\xe9`, "4444", `\udc00"`, "ab"} {
		if strings.Contains(all, secret) {
			t.Errorf("a problem report quotes the secret %q:\n%s", secret, all)
		}
	}
	if !utf8.ValidString(all) {
		t.Errorf("the report itself is not valid UTF-8:\n%s", all)
	}
}

func TestHasLoneSurrogate(t *testing.T) {
	for raw, want := range map[string]bool{
		`"\ud800"`: true, `"\uDBFF\uDBFF"`: true, `"\udfff"`: true, `"a\ud800\n"`: true,
		`"\ud800\u00e9"`: true, `"\ud800\\udc00"`: true, `"\ud800`: true,
		`"\ud83d\ude00"`: false, `"\uD83D\uDE00\ud83d\ude00"`: false, `"\\ud800"`: false,
		`"\\\\ud800"`: false, `"\\\ud800"`: true, `"\u00e9\ufffd"`: false, `""`: false,
		`"\u12"`: false, `"\`: false,
	} {
		if got := hasLoneSurrogate([]byte(raw)); got != want {
			t.Errorf("hasLoneSurrogate(%s) = %v, want %v", raw, got, want)
		}
	}
}

// TestParseImportEncodings: a UTF-8 byte-order mark is dropped (Windows
// Notepad writes one); UTF-16 and UTF-32 files are refused by name.
func TestParseImportEncodings(t *testing.T) {
	entries, problems, err := ParseImport(append([]byte("\xef\xbb\xbf"), seedsFile...))
	if err != nil || len(problems) != 0 || len(entries) != 3 || entries[2].Line != 4 {
		t.Errorf("UTF-8 with a BOM: %+v %v %v", entries, problems, err)
	}
	utf16 := func(s string, big bool, bom bool) []byte {
		var b []byte
		if bom {
			s = "\uFEFF" + s
		}
		for _, r := range s { // all in the BMP
			hi, lo := byte(r>>8), byte(r)
			if big {
				b = append(b, hi, lo)
			} else {
				b = append(b, lo, hi)
			}
		}
		return b
	}
	for name, data := range map[string][]byte{
		"UTF-16LE with BOM": utf16(`{"ali": ["1", "k"]}`, false, true),
		"UTF-16BE with BOM": utf16(`{"ali": ["1", "k"]}`, true, true),
		"UTF-16LE":          utf16(`{"ali": ["1", "k"]}`, false, false),
		"UTF-16BE":          utf16(` {"ali": ["1", "k"]}`, true, false),
		"UTF-32LE":          {0xFF, 0xFE, 0, 0, '{', 0, 0, 0, '}', 0, 0, 0},
	} {
		_, _, err := ParseImport(data)
		if err == nil || !strings.Contains(err.Error(), "looks like UTF-16") || !strings.Contains(err.Error(), "save it as UTF-8") {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestImportProblemCutsLongIDs: a huge bad user ID is shown cut short,
// with its length, not echoed whole.
func TestImportProblemCutsLongIDs(t *testing.T) {
	long := strings.Repeat("x", 1_000_000)
	_, problems, err := ParseImport([]byte(`{"` + long + `": ["1", "k"]}`))
	if err != nil || len(problems) != 1 {
		t.Fatalf("%v %v", problems, err)
	}
	s := problems[0].String()
	if len(s) > 200 || !strings.Contains(s, `"`+strings.Repeat("x", 40)+`"…(1000000 bytes)`) {
		t.Errorf("problem = %.300s", s)
	}
	// Cut at a character boundary.
	s = ImportProblem{Line: 1, ID: strings.Repeat("é", 30), Msg: "m"}.String()
	if !utf8.ValidString(s) || !strings.Contains(s, "…(60 bytes)") {
		t.Errorf("problem = %s", s)
	}
	if s := (ImportProblem{Line: 1, ID: "ali", Msg: "m"}).String(); s != `line 1: "ali": m` {
		t.Errorf("short ID shown as %s", s)
	}
}
