package userstore

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
)

// The seeds' Listing 10, as a course server keeps it in user_db.json.
const seedsFile = `{
    "ali": ["00123", "crypto"],
    "bianca": ["22456", "secret"],
    "fred": ["98765", "no clue"]
}
`

func TestParseImportSeedsShape(t *testing.T) {
	entries, problems, err := ParseImport([]byte(seedsFile))
	if err != nil || len(problems) != 0 {
		t.Fatalf("ParseImport: %v %v", err, problems)
	}
	want := []ImportEntry{
		{Line: 2, ID: "ali", Name: "ali", Credential: "00123", Key: "crypto"},
		{Line: 3, ID: "bianca", Name: "bianca", Credential: "22456", Key: "secret"},
		{Line: 4, ID: "fred", Name: "fred", Credential: "98765", Key: "no clue"},
	}
	if len(entries) != len(want) {
		t.Fatalf("entries = %+v", entries)
	}
	for i := range want {
		if entries[i] != want[i] {
			t.Errorf("entry %d = %+v, want %+v", i, entries[i], want[i])
		}
	}
	// The handout's dictionary without keys, a one-element array, an
	// empty key, mixed case and escapes all load.
	entries, problems, err = ParseImport([]byte(`{"Ali": "00123", "BIANCA": ["0023dc6b"], "carol.x": ["c", ""], "d\u0061ve": ["\u00e9", "k\u00e9y"]}`))
	if err != nil || len(problems) != 0 || len(entries) != 4 {
		t.Fatalf("ParseImport: %+v %v %v", entries, problems, err)
	}
	got := map[string]ImportEntry{}
	for _, e := range entries {
		got[e.Name] = e
	}
	if e := got["ali"]; e.ID != "Ali" || e.Credential != "00123" || e.Key != "" {
		t.Errorf("Ali = %+v", e)
	}
	if e := got["bianca"]; e.Credential != "0023dc6b" || e.Key != "" {
		t.Errorf("BIANCA = %+v", e)
	}
	if e := got["dave"]; e.Credential != "é" || e.Key != "kéy" {
		t.Errorf("dave = %+v", e)
	}
	if _, _, err := ParseImport([]byte("{}")); err != nil {
		t.Errorf("empty object: %v", err)
	}
}

// TestParseImportReportsEveryBadEntry: each kind of bad entry is reported
// with its line and user ID, the good entries still parse, and no message
// quotes a credential or key.
func TestParseImportReportsEveryBadEntry(t *testing.T) {
	long := strings.Repeat("k", MaxKey+1)
	file := `{
  "ali": ["00123", "crypto"],
  "bianca": ["22456", "secret"],
  "Ali": ["99999", "other-key"],
  "ali": ["88888", "third-key"],
  "no spaces": ["1", "k"],
  "": ["1", "k"],
  "thirty-three-characters-long-xxxx": ["1", "k"],
  "b\u00e9a": ["1", "k"],
  "num": [12345, "k"],
  "numkey": ["1", 7],
  "bare": 12345,
  "nul": null,
  "obj": {"passcode": "1"},
  "empty": [],
  "three": ["1", "k", "x"],
  "emptycred": ["", "k"],
  "ctlkey": ["1", "xyzzy\tplugh"],
  "longkey": ["1", "` + long + `"],
  "esckey": ["1", "\u001b[2J"],
  "fred": ["98765", "no clue"]
}`
	entries, problems, err := ParseImport([]byte(file))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 2 || entries[0].Name != "bianca" || entries[1].Name != "fred" {
		t.Errorf("good entries = %+v, want bianca and fred", entries)
	}
	want := []struct {
		line int
		id   string
		msg  string
	}{
		{2, "ali", "appears more than once (again on line 4, 5)"},
		{4, "Ali", "duplicate: user ali is already on line 2"},
		{5, "ali", "duplicate: user ali is already on line 2"},
		{6, "no spaces", "bad user ID"},
		{7, "", "bad user ID"},
		{8, "thirty-three-characters-long-xxxx", "bad user ID"},
		{9, "béa", "bad user ID"},
		{10, "num", "the credential is a number"},
		{11, "numkey", "the key is a number"},
		{12, "bare", "the value is a number"},
		{13, "nul", "the value is null"},
		{14, "obj", "the value is an object"},
		{15, "empty", "an array of 0 values"},
		{16, "three", "an array of 3 values"},
		{17, "emptycred", "the credential is empty"},
		{18, "ctlkey", "control character"},
		{19, "longkey", "longer than"},
		{20, "esckey", "control character"},
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
	for _, secret := range []string{"00123", "crypto", "99999", "other-key", "third-key", "xyzzy", "[2J", long[:20]} {
		if strings.Contains(all, secret) {
			t.Errorf("a problem report quotes the secret %q:\n%s", secret, all)
		}
	}
}

func problemList(ps []ImportProblem) string {
	var b strings.Builder
	for _, p := range ps {
		b.WriteString(p.String() + "\n")
	}
	return b.String()
}

// TestParseImportRefusesBrokenFiles: a file that is not one JSON object of
// entries is refused as a whole, naming the line.
func TestParseImportRefusesBrokenFiles(t *testing.T) {
	for _, c := range []struct{ file, want string }{
		{"", "line 1: the file ends"},
		{"[\"ali\", \"00123\"]", "line 1: the file is not a JSON object"},
		{"\"ali\"", "not a JSON object"},
		{"{\n\"ali\": [\"1\", \"k\"],\n\"bianca\": [\"2\" \"k\"]\n}", "line 3: not valid JSON"},
		{"{\n\"ali\": [\"1\", \"k\"],\n", "the file ends before its JSON object does"},
		{"{\"ali\": [\"1\", \"k\"]}\n{\"x\": 1}", "line 2: more after the end"},
		{"{\n\n\"ali\": [\"1\", \"k\"],,\n}", "line 3: not valid JSON"},
		{"credentials = {\"ali\": [\"00123\", \"crypto\"]}", "line 1: not valid JSON"},
	} {
		_, _, err := ParseImport([]byte(c.file))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ParseImport(%q) = %v, want ...%s...", c.file, err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), "00123") {
			t.Errorf("error quotes the credential: %v", err)
		}
	}
}

func TestKeyStringInUsersFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "users")
	h := NewHasher([]byte("pepper-pepper-pepper"), DefaultParams, 2)
	phc, _ := h.Hash(context.Background(), "c")
	keys := map[string]string{"ali": "no clue", "bianca": "=/+ é €", "carol": ""}
	if err := Edit(path, func(u map[string]User) error {
		for n, k := range keys {
			u[n] = User{Name: n, Hash: phc, Key: k}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	users, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for n, k := range keys {
		if users[n].Key != k {
			t.Errorf("%s: key %q, want %q", n, users[n].Key, k)
		}
	}
	for _, bad := range []string{"key=!!!", "key=CQ", "key=" + keyEncoding.EncodeToString([]byte(strings.Repeat("x", MaxKey+1)))} {
		if _, err := Parse(strings.NewReader("ali " + phc + " " + bad + "\n")); err == nil || !strings.Contains(err.Error(), "bad key") {
			t.Errorf("Parse accepted %s: %v", bad, err)
		}
	}
}

// FuzzParseImport: any input either fails as a whole or splits into good
// entries and problems; no report ever quotes an entry's secrets.
func FuzzParseImport(f *testing.F) {
	f.Add([]byte(seedsFile))
	f.Add([]byte(`{"Ali": "1", "ali": ["2", "k"], "x y": 5}`))
	f.Add([]byte(`{"a": [1,2,3], "b": {"c": []}}`))
	f.Add([]byte("\xef\xbb\xbf{\"lat1\": [\"4242\", \"cl\xe9\"], \"x\\ud800\": \"\\ud83d\\ude00\"}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		entries, problems, err := ParseImport(data)
		if err != nil {
			if entries != nil || problems != nil {
				t.Fatal("entries returned with an error")
			}
			return
		}
		seen := map[string]bool{}
		for _, e := range entries {
			if seen[e.Name] {
				t.Fatalf("%s imported twice", e.Name)
			}
			seen[e.Name] = true
			if ValidCredential(e.Credential) != nil || (e.Key != "" && ValidKey(e.Key) != nil) {
				t.Fatalf("entry %+v passed with a bad credential or key", e)
			}
			if e.Line < 1 {
				t.Fatalf("entry %+v has no line", e)
			}
		}
		for _, p := range problems {
			if p.Line < 1 {
				t.Fatalf("problem %s has no line", p)
			}
		}
	})
}
