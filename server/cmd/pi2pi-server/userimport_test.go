package main

import (
	"bufio"
	"bytes"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pi2pi/pi2pi/internal/wire"
	"github.com/pi2pi/pi2pi/server/userstore"
)

// ask sends one message in plain mode from the address from and returns
// the raw reply.
func ask(t *testing.T, addr, from string, m wire.Message) []byte {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	if err := wire.Write(c, m); err != nil {
		t.Fatal(err)
	}
	raw, err := wire.NewDecoder(c).Next()
	if err != nil {
		t.Fatalf("%s: no reply: %v", m.Type, err)
	}
	return bytes.Clone(raw)
}

func TestUserKeyCommands(t *testing.T) {
	dir := t.TempDir()
	users := filepath.Join(dir, "users")
	f := []string{"--users", users, "--state-dir", dir}
	run := func(want int, args ...string) (string, string) {
		t.Helper()
		o, e, code := pi2piServer(t, "1234\n", append(args, f...)...)
		if code != want {
			t.Fatalf("%v: exit %d, want %d\n%s%s", args, code, want, o, e)
		}
		if strings.Contains(o+e, "no clue") || strings.Contains(o+e, "s3cret") {
			t.Errorf("%v printed a key string:\n%s%s", args, o, e)
		}
		return o, e
	}
	run(0, "user", "add", "ali", "--key", "no clue")
	run(0, "user", "add", "bianca", "--credential", "22456")
	if o, _ := run(0, "user", "list"); o != "ali\tok\tkey set\nbianca\tok\tkey not set\n" {
		t.Errorf("user list = %q", o)
	}
	run(0, "user", "key", "bianca", "--key", "s3cret")
	run(0, "user", "passwd", "ali")
	got, err := userstore.ReadFile(users)
	if err != nil || got["ali"].Key != "no clue" || got["bianca"].Key != "s3cret" {
		t.Fatalf("keys after key and passwd: %+v %v", got, err)
	}
	run(0, "user", "passwd", "ali", "--key", "s3cret")
	run(0, "user", "key", "bianca", "--no-key")
	got, _ = userstore.ReadFile(users)
	if got["ali"].Key != "s3cret" || got["bianca"].Key != "" {
		t.Errorf("keys after passwd --key and --no-key: %+v", got)
	}
	data, _ := os.ReadFile(users)
	if strings.Contains(string(data), "s3cret") {
		t.Errorf("the key string is in the users file as it is:\n%s", data)
	}
	// Mistakes are refused with the usage (2) or an error (1).
	run(2, "user", "key", "ali")
	run(2, "user", "key", "ali", "--key", "x", "--no-key")
	run(2, "user", "add", "carol", "--key", "bad\tkey")
	run(2, "user", "add", "carol", "--key", "")
	run(2, "user", "del", "ali", "--key", "x")
	run(2, "user", "add", "carol", "--skip-bad")
	run(2, "user", "import")
	run(1, "user", "key", "nobody", "--key", "x")
}

const classFile = `{
    "Ali": ["00123", "crypto"],
    "bianca": ["22456", "secret"],
    "fred": ["98765", "no clue"]
}
`

// TestUserImportAndServe: a class's file is imported and a running plain
// server picks it up on SIGHUP; logins use the file's credentials and
// lookups hand out its keys.
func TestUserImportAndServe(t *testing.T) {
	dir := t.TempDir()
	users, class := filepath.Join(dir, "users"), filepath.Join(dir, "user_db.json")
	if err := os.WriteFile(class, []byte(classFile), 0o600); err != nil {
		t.Fatal(err)
	}
	s := start(t, "", "serve", "--users", users, "--state-dir", dir, "--security", "plain")
	o, e, code := pi2piServer(t, "", "user", "import", class, "--users", users, "--state-dir", dir)
	if code != 0 || !strings.Contains(e, "imported 3 users (3 with a key)") {
		t.Fatalf("import: exit %d\n%s%s", code, o, e)
	}
	for _, secret := range []string{"00123", "crypto", "secret", "no clue"} {
		if strings.Contains(withoutDir(o+e, dir), secret) {
			t.Errorf("import printed %q:\n%s%s", secret, o, e)
		}
	}
	if err := s.Cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	s.WaitLog(t, "users=3")
	login := func(from, user, cred string) string {
		r, _ := wire.Unmarshal(ask(t, s.addr, from, wire.Message{Type: wire.AuthReq, UserID: user, Passcode: cred}))
		return r.Status
	}
	if st := login("127.0.0.2", "ali", "00123"); st != wire.Granted {
		t.Fatalf("ali: %s", st)
	}
	if st := login("127.0.0.3", "Bianca", "22456"); st != wire.Granted {
		t.Fatalf("bianca: %s", st)
	}
	if st := login("127.0.0.4", "fred", "00123"); st != wire.Refused {
		t.Fatalf("fred with ali's credential: %s", st)
	}
	raw := ask(t, s.addr, "127.0.0.2", wire.Message{Type: wire.LookupReq, UserID: "ali", Lookup: "bianca"})
	if want := `{"msgtype":"LOOKUPREPLY","status":"SUCCESS","answer":"bianca","address":"127.0.0.3","encryptionkey":"secret"}`; string(raw) != want {
		t.Errorf("lookup = %s, want %s", raw, want)
	}
	raw = ask(t, s.addr, "127.0.0.2", wire.Message{Type: wire.LookupReq, UserID: "ali", Lookup: "fred"})
	if strings.Contains(string(raw), "no clue") || !strings.Contains(string(raw), "NOTFOUND") {
		t.Errorf("lookup of fred, not logged in = %s", raw)
	}
	// Importing again clashes with the enrolled users, unless --replace.
	_, e, code = pi2piServer(t, "", "user", "import", class, "--users", users, "--state-dir", dir)
	if code != 1 || strings.Count(e, "is already enrolled") != 3 || !strings.Contains(e, "nothing imported") {
		t.Errorf("second import: exit %d\n%s", code, e)
	}
	// The file may come on stdin (`user import - < file`, or a pipe).
	_, e, code = pi2piServer(t, classFile, "user", "import", "-", "--replace", "--users", users, "--state-dir", dir)
	if code != 0 || !strings.Contains(e, "imported 3 users (3 with a key) from stdin") {
		t.Errorf("import - --replace: exit %d\n%s", code, e)
	}
	_, e, code = pi2piServer(t, "", "user", "import", "-", "--replace", "--users", users, "--state-dir", dir)
	if code != 1 || !strings.Contains(e, "stdin") {
		t.Errorf("import - with empty stdin: exit %d\n%s", code, e)
	}
	for _, secret := range []string{"00123", "22456", "crypto", "secret", "no clue"} {
		if strings.Contains(withoutDir(s.Logs(), dir), secret) {
			t.Errorf("the server logged %q", secret)
		}
	}
}

// TestUserImportAllOrNothing: one bad entry and nothing is written; with
// --skip-bad the good entries are written and the bad ones listed.
func TestUserImportAllOrNothing(t *testing.T) {
	dir := t.TempDir()
	users, class := filepath.Join(dir, "users"), filepath.Join(dir, "class.json")
	pi2piServer(t, "1234\n", "user", "add", "teacher", "--users", users, "--state-dir", dir)
	before, err := os.ReadFile(users)
	if err != nil {
		t.Fatal(err)
	}
	file := "{\n \"ali\": [\"00123\", \"crypto\"],\n \"ALI\": [\"1\", \"k\"],\n \"no way\": [\"1\", \"k\"],\n" +
		" \"carol\": 123,\n \"dave\": [\"\", \"k\"],\n \"erin\": [\"1\", \"esc\\u001b\"],\n \"teacher\": [\"1\", \"k\"],\n" +
		" \"bianca\": [\"22456\", \"secret\"]\n}\n"
	if err := os.WriteFile(class, []byte(file), 0o600); err != nil {
		t.Fatal(err)
	}
	_, e, code := pi2piServer(t, "", "user", "import", class, "--users", users, "--state-dir", dir)
	for _, want := range []string{`line 2: "ali": user ali appears more than once`, `line 3: "ALI": duplicate`,
		`line 4: "no way": bad user ID`, `line 5: "carol": malformed`, `line 6: "dave": bad credential`,
		`line 7: "erin": bad key`, `line 8: "teacher": user teacher is already enrolled`, "nothing imported: 7 bad entries"} {
		if !strings.Contains(e, want) {
			t.Errorf("import report lacks %q:\n%s", want, e)
		}
	}
	if after, _ := os.ReadFile(users); code != 1 || !bytes.Equal(before, after) {
		t.Fatalf("import with bad entries: exit %d, users file changed: %v\n%s", code, !bytes.Equal(before, after), e)
	}
	_, e, code = pi2piServer(t, "", "user", "import", class, "--skip-bad", "--users", users, "--state-dir", dir)
	if code != 0 || !strings.Contains(e, "imported 1 users (1 with a key)") || !strings.Contains(e, "skipped 7 bad entries") {
		t.Fatalf("import --skip-bad: exit %d\n%s", code, e)
	}
	got, err := userstore.ReadFile(users)
	if err != nil || len(got) != 2 || got["bianca"].Key != "secret" || got["teacher"].Hash == "" {
		t.Errorf("after --skip-bad: %+v %v", got, err)
	}
	// A file that is not a JSON object is refused whatever the flags.
	os.WriteFile(class, []byte("credentials = {\"ali\": [\"00123\", \"crypto\"]}\n"), 0o600)
	if _, e, code := pi2piServer(t, "", "user", "import", class, "--skip-bad", "--users", users, "--state-dir", dir); code != 1 || !strings.Contains(e, "line 1: not valid JSON") {
		t.Errorf("import of Python source: exit %d\n%s", code, e)
	}
	if _, e, code := pi2piServer(t, "", "user", "import", filepath.Join(dir, "missing.json"), "--users", users, "--state-dir", dir); code != 1 || !strings.Contains(e, "missing.json") {
		t.Errorf("import of a missing file: exit %d\n%s", code, e)
	}
}

// TestSIGKILLDuringImportKeepsUsersFileWhole runs the real `user import`
// of a large class file over a large users file and SIGKILLs it at random
// moments, and right after it announces the write: every time, the users
// file parses and is either the old file, byte for byte, or the whole new
// one (every old user and every imported user with its key).
func TestSIGKILLDuringImportKeepsUsersFileWhole(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: SIGKILL loop over argon2 imports")
	}
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(uint64(seed), 14))
	dir := t.TempDir()
	users, class := filepath.Join(dir, "users"), filepath.Join(dir, "class.json")

	// The old file: 300 users with long keys (one hash, computed once).
	pi2piServer(t, "1234\n", "user", "add", "teacher", "--users", users, "--state-dir", dir)
	old, err := userstore.ReadFile(users)
	if err != nil {
		t.Fatal(err)
	}
	key := strings.Repeat("k", userstore.MaxKey-8)
	for i := range 300 {
		n := fmt.Sprintf("old%03d", i)
		old[n] = userstore.User{Name: n, Hash: old["teacher"].Hash, Key: fmt.Sprintf("%s%08d", key, i)}
	}
	oldBytes := userstore.Format(old)
	// The class: 40 users, each with a credential and a long key.
	var b strings.Builder
	b.WriteString("{\n")
	for i := range 40 {
		fmt.Fprintf(&b, "  \"Student%02d\": [\"cred-%d\", \"%s%08d\"],\n", i, i, key, i)
	}
	b.WriteString("  \"last\": [\"cred-last\", \"\"]\n}\n")
	if err := os.WriteFile(class, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	isNew := func(got map[string]userstore.User) bool {
		if len(got) != len(old)+41 {
			return false
		}
		for n, u := range old {
			if got[n] != u {
				return false
			}
		}
		for i := range 40 {
			if got[fmt.Sprintf("student%02d", i)].Key != fmt.Sprintf("%s%08d", key, i) {
				return false
			}
		}
		_, ok := got["last"]
		return ok
	}
	// One import run, SIGKILLed delay after it starts, or delay after it
	// says "writing" when fromWriting. It returns how long the run and its
	// write phase took.
	importOnce := func(delay time.Duration, fromWriting bool) (took, writing time.Duration) {
		if err := os.WriteFile(users, oldBytes, 0o640); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(binary, "user", "import", class, "--users", users, "--state-dir", dir)
		stderr, err := cmd.StderrPipe()
		if err != nil {
			t.Fatal(err)
		}
		began := time.Now()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		kill := func() { _ = cmd.Process.Signal(syscall.SIGKILL) }
		var timer *time.Timer
		if !fromWriting {
			timer = time.AfterFunc(delay, kill)
		}
		var out strings.Builder
		var wrote time.Time
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			out.WriteString(sc.Text() + "\n")
			if strings.HasPrefix(sc.Text(), "writing ") {
				wrote = time.Now()
				if fromWriting {
					timer = time.AfterFunc(delay, kill)
				}
			}
		}
		werr := cmd.Wait()
		took = time.Since(began)
		if !wrote.IsZero() {
			writing = time.Since(wrote)
		}
		if timer != nil {
			timer.Stop()
		}
		data, err := os.ReadFile(users)
		if err != nil {
			t.Fatal(err)
		}
		got, err := userstore.Parse(bytes.NewReader(data))
		kept := bytes.Equal(data, oldBytes)
		switch {
		case err != nil:
			t.Fatalf("kill after %v: users file damaged: %v", delay, err)
		case kept && werr == nil:
			t.Fatalf("import succeeded but the users file is unchanged:\n%s", out.String())
		case !kept && !isNew(got):
			t.Fatalf("kill after %v: users file is neither the old nor the whole new one (%d users)", delay, len(got))
		}
		from := map[bool]string{true: "its \"writing\"", false: "its start"}[fromWriting]
		t.Logf("SIGKILL %v after %s: exit %v, users file %s", delay, from, werr, map[bool]string{true: "old", false: "new"}[kept])
		return took, writing
	}
	full, write := importOnce(time.Hour, false)
	for range 4 {
		importOnce(time.Duration(rng.Int64N(int64(full+full/5))), false)
	}
	// Most kills land while hashing: aim some at the write itself.
	for range 6 {
		importOnce(time.Duration(rng.Int64N(int64(write+write/5+1))), true)
	}
	// The next write clears what the killed writers left behind.
	importOnce(time.Hour, false)
	if stale, _ := filepath.Glob(filepath.Join(dir, ".users.tmp*")); len(stale) != 0 {
		t.Errorf("temporary files left after a finished import: %v", stale)
	}
}
