package e2e

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pi2pi/pi2pi/internal/wire"
)

// A class's user file in the seeds' shape ({"userid": ["credential",
// "key"]}), as its course server keeps it: the credential is what the
// class's terminals send in AUTHREQ (a hash for ali, as in the seeds'
// Listing 1; the digits themselves for the others).
var classUsers = map[string][2]string{
	"Ali":    {"0023dc6bc244d474d2237ab53d256430b14eabe6db", "crypto"},
	"bianca": {"22456", "no clue"},
	"dave":   {"13579", "dave's key"},
	"erin":   {"24680", "erin-key"},
	"fred":   {"98765", "never handed out"},
}

// importClass writes the class file, imports it with `pi2pi-server user
// import` and has the running server pick it up on SIGHUP.
func importClass(t *testing.T, srv *server) {
	t.Helper()
	data, err := json.MarshalIndent(classUsers, "", "    ")
	if err != nil {
		t.Fatal(err)
	}
	class := filepath.Join(t.TempDir(), "user_db.json")
	if err := os.WriteFile(class, data, 0o600); err != nil {
		t.Fatal(err)
	}
	srv.runUserCmd("", "user", "import", class, "--users", srv.users, "--state-dir", srv.stateDir)
	if err := srv.p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	err = srv.p.waitUntil(startTimeout, "a reload of 5 users", func(out string) bool {
		for _, l := range strings.Split(out, "\n") {
			if strings.Contains(l, "users file loaded") && strings.Contains(l, "users=5") {
				return true
			}
		}
		return false
	})
	if err != nil {
		t.Fatal(err)
	}
}

// rawLookup sends a plain LOOKUPREQ from fromIP and returns the raw reply.
func rawLookup(t *testing.T, srv *server, fromIP, user, target string) string {
	t.Helper()
	c, err := dialRaw(fromIP, srv.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(stepTimeout))
	if err := wire.Write(c, wire.Message{Type: wire.LookupReq, UserID: user, Lookup: target}); err != nil {
		t.Fatal(err)
	}
	raw, err := wire.NewDecoder(c).Next()
	if err != nil {
		t.Fatalf("lookup of %s as %s from %s: %v", target, user, fromIP, err)
	}
	return string(bytes.TrimSpace(raw))
}

// pyCourseTerminal starts a course-style terminal of the class that
// encrypts its chats the seeds' way, printing what arrives as it is.
func pyCourseTerminal(t *testing.T, srv *server, user, ownKey string, extra ...string) (*chatSession, string) {
	t.Helper()
	cred := classUsers[user][0]
	args := append([]string{"--encrypt", "--key", ownKey, "--debug"}, extra...)
	return startPythonTerminal(t, srv.addr, user, cred, args...)
}

// dataLines returns what a terminal printed as it arrived ("Data: ...").
func dataLines(out string) []string {
	var d []string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "Data: ") {
			d = append(d, l)
		}
	}
	return d
}

// TestCourseClassOnOurServer: a class moves from its course server to
// pi2pi-server. Its user file is imported, the server (plain mode) picks
// it up on SIGHUP, and two of the class's terminals log in with their own
// credentials, look each other up, get each other's key from the
// LOOKUPREPLY and chat encrypted with it. Key strings go only to logged-in
// requesters, never in a NOTFOUND, and never into the server's log.
func TestCourseClassOnOurServer(t *testing.T) {
	t.Parallel()
	needPython(t)
	srv := startServer(t, "plain", nil)
	importClass(t, srv)

	bianca, biancaIP := pyCourseTerminal(t, srv, "bianca", "no clue")
	bianca.expect("Enter destination user ID:")
	ali, aliIP := pyCourseTerminal(t, srv, "Ali", "crypto", "--call", "bianca")
	ali.expect(established)
	bianca.expect(received("Ali"))
	ali.say("Hello, are you there?")
	bianca.expect("Hello, are you there?")
	bianca.say("Yes, here I am!")
	ali.expect("Yes, here I am!")
	ali.hangUp()
	bianca.expect(ended)
	aliOut, biancaOut := ali.finish(), bianca.finish()
	inOrder(t, "bianca", biancaOut, received("Ali"), "Hello, are you there?", ended)
	inOrder(t, "ali", aliOut, established, "Yes, here I am!")
	// What travelled between the terminals was not the chat text.
	for who, out := range map[string]string{"ali": aliOut, "bianca": biancaOut} {
		data := dataLines(out)
		if len(data) == 0 {
			t.Errorf("%s printed nothing that arrived:\n%s", who, out)
		}
		for _, d := range data {
			if strings.Contains(d, "Hello") || strings.Contains(d, "here I am") {
				t.Errorf("%s received chat text in clear: %s", who, d)
			}
		}
		if strings.Contains(out, "could not be decrypted") {
			t.Errorf("%s could not decrypt a message:\n%s", who, out)
		}
	}

	// The key strings travel only to logged-in requesters.
	notFound := `{"msgtype":"LOOKUPREPLY","status":"NOTFOUND","answer":"","address":"","encryptionkey":""}`
	eveIP := nextIP()
	if got := rawLookup(t, srv, aliIP, "ali", "bianca"); !strings.Contains(got, `"address":"`+biancaIP+`","encryptionkey":"no clue"}`) {
		t.Errorf("ali's lookup of bianca = %s", got)
	}
	for _, c := range []struct{ from, user, target, why string }{
		{eveIP, "eve", "bianca", "a requester not logged in"},
		{eveIP, "ali", "bianca", "ali's name from another address"},
		{eveIP, "fred", "bianca", "a user of the class who has not logged in"},
		{aliIP, "ali", "fred", "a target who has not logged in"},
		{aliIP, "ali", "nobody", "a target who does not exist"},
	} {
		if got := rawLookup(t, srv, c.from, c.user, c.target); got != notFound {
			t.Errorf("%s: LOOKUPREPLY = %s, want %s", c.why, got, notFound)
		}
	}
	srv.stop()
	logs := srv.p.Output()
	for user, e := range classUsers {
		for _, secret := range e {
			if strings.Contains(logs, secret) {
				t.Errorf("the server's log holds %s's credential or key %q", user, secret)
			}
		}
	}
}

// TestCourseKeysAreTheDirectorysKeys: each side encrypts with the key the
// directory handed out for the other. A terminal that believes in another
// key than the one in the imported file cannot read what it is sent, while
// the other direction still works.
func TestCourseKeysAreTheDirectorysKeys(t *testing.T) {
	t.Parallel()
	needPython(t)
	srv := startServer(t, "plain", nil)
	importClass(t, srv)

	dave, _ := pyCourseTerminal(t, srv, "dave", "not dave's key")
	dave.expect("Enter destination user ID:")
	erin, _ := pyCourseTerminal(t, srv, "erin", "erin-key", "--call", "dave")
	erin.expect(established)
	dave.expect(received("erin"))
	erin.say("Hello, are you there?")
	dave.expect("[a message that could not be decrypted with my key]")
	dave.say("Yes, here I am!")
	erin.expect("Yes, here I am!")
	erin.hangUp()
	dave.expect(ended)
	if out := dave.finish(); strings.Contains(out, "Hello, are you there?") {
		t.Errorf("dave read a message sealed for another key:\n%s", out)
	}
	erin.finish()
}
