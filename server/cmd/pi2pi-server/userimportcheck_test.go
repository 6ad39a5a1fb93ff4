package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pi2pi/pi2pi/server/userstore"
)

// TestUserImportRefusesInvalidUTF8 is the outside tester's case: Latin-1
// bytes in keys and a credential, and a lone surrogate escape, are bad
// entries (not silently U+FFFD), nothing is written, and since no entry is
// good the hint does not offer --skip-bad.
func TestUserImportRefusesInvalidUTF8(t *testing.T) {
	dir := t.TempDir()
	users, class := filepath.Join(dir, "users"), filepath.Join(dir, "f.json")
	file := "{\"lat1\":[\"4242\",\"cl\xe9\"],\"lat2\":[\"4343\",\"cl\xe8\"],\"lat3\":[\"p\xe9\",\"k\"],\n\"sur\":[\"1\",\"\\ud800\"]}"
	if err := os.WriteFile(class, []byte(file), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, skip := range []bool{false, true} {
		args := []string{"user", "import", class, "--users", users, "--state-dir", dir}
		if skip {
			args = append(args, "--skip-bad")
		}
		o, e, code := pi2piServer(t, "", args...)
		for _, want := range []string{`line 1: "lat1": bad key: the key is not valid UTF-8`,
			`line 1: "lat2": bad key`, `line 1: "lat3": bad credential: the credential is not valid UTF-8`,
			`line 2: "sur": bad key: the key holds a lone UTF-16 surrogate`,
			"nothing imported: 4 bad entries in " + class + " and no good one"} {
			if !strings.Contains(e, want) {
				t.Errorf("skip-bad %v: report lacks %q:\n%s", skip, want, e)
			}
		}
		if code != 1 || strings.Contains(e, "imported 3") || strings.Contains(e, "0 good") {
			t.Errorf("skip-bad %v: exit %d\n%s%s", skip, code, o, e)
		}
		for _, secret := range []string{"4242", "4343", "cl", "p\xe9", `p\xe9`} {
			if strings.Contains(withoutDir(o+e, dir), secret) {
				t.Errorf("the report quotes %q:\n%s", secret, e)
			}
		}
		if _, err := os.Stat(users); !os.IsNotExist(err) {
			t.Fatalf("skip-bad %v: the users file was written (%v)", skip, err)
		}
	}
}

// TestUserImportMessages: a huge bad user ID is cut short on stderr; a
// file with a UTF-8 BOM imports; a UTF-16 file is named as such; --replace
// says how many existing keys entries without a key removed; the usage
// lists every probe flag.
func TestUserImportMessages(t *testing.T) {
	dir := t.TempDir()
	users, class := filepath.Join(dir, "users"), filepath.Join(dir, "class.json")
	f := []string{"--users", users, "--state-dir", dir}
	importFile := func(data []byte, args ...string) (string, int) {
		t.Helper()
		if err := os.WriteFile(class, data, 0o600); err != nil {
			t.Fatal(err)
		}
		_, e, code := pi2piServer(t, "", append(append([]string{"user", "import", class}, args...), f...)...)
		return e, code
	}
	e, code := importFile([]byte(`{"`+strings.Repeat("A", 1_000_000)+`": ["1", "k"], "ali": ["1", "k"]}`), "--skip-bad")
	if code != 0 || len(e) > 1000 || !strings.Contains(e, `"`+strings.Repeat("A", 40)+`"…(1000000 bytes): bad user ID`) {
		t.Errorf("long ID: exit %d, %d bytes of stderr:\n%.2000s", code, len(e), e)
	}
	e, code = importFile(append([]byte("\xef\xbb\xbf"), "{\"bianca\": [\"22456\", \"secret\"],\n\"carol\": [\"3\", \"c-key\"]}"...))
	if code != 0 || !strings.Contains(e, "imported 2 users (2 with a key)") || strings.Contains(e, "replaced") {
		t.Errorf("UTF-8 with a BOM: exit %d\n%s", code, e)
	}
	var u16 []byte
	for _, c := range "\uFEFF{\"dave\": [\"4\", \"k\"]}" {
		u16 = append(u16, byte(c), byte(c>>8))
	}
	if e, code = importFile(u16); code != 1 || !strings.Contains(e, "looks like UTF-16") || strings.Contains(e, "invalid character") {
		t.Errorf("UTF-16: exit %d\n%s", code, e)
	}
	e, code = importFile([]byte(`{"bianca": ["22456"], "carol": ["3", "new-key"], "erin": "5"}`), "--replace")
	if code != 0 || !strings.Contains(e, "imported 3 users (1 with a key)") || !strings.Contains(e, "replaced 2 enrolled users, removing 1 existing keys") {
		t.Errorf("--replace: exit %d\n%s", code, e)
	}
	got, err := userstore.ReadFile(users)
	if err != nil || got["bianca"].Key != "" || got["carol"].Key != "new-key" || got["ali"].Key != "k" || len(got) != 4 {
		t.Errorf("after --replace: %+v %v", got, err)
	}
	for _, args := range [][]string{{"--help"}, {"probe", "--help"}} {
		o, _, code := pi2piServer(t, "", args...)
		for _, flag := range []string{"--user", "--passcode", "--credential", "--lookup", "--security", "--server-fingerprint", "--source", "--timeout"} {
			_, probeUsage, _ := strings.Cut(o, "probe ADDR")
			probeUsage, _, _ = strings.Cut(probeUsage, "service install")
			if code != 0 || !strings.Contains(probeUsage, flag+" ") {
				t.Errorf("%v: exit %d, probe usage lacks %s:\n%s", args, code, flag, o)
			}
		}
	}
	if data, _ := os.ReadFile(users); bytes.Contains(data, []byte("secret")) {
		t.Error("the key is in the users file as it is")
	}
}

// withoutDir removes the test's temporary directory from out: its name
// has random digits that may happen to spell a passcode.
func withoutDir(out, dir string) string { return strings.ReplaceAll(out, dir, "DIR") }
