package cli

import (
	"os"
	"strings"
	"testing"

	"github.com/pi2pi/pi2pi/daemon/backend/backendtest"
	"github.com/pi2pi/pi2pi/internal/transport"
)

// chatOnce has ali chat with bianca (waiting on her terminal) and end at
// once; it returns ali's run.
func chatOnce(t *testing.T, ali, bianca *backendtest.Terminal) *run {
	t.Helper()
	b := waiting(t, bianca)
	r := start(t, ali, "chat", "bianca")
	r.waitFor(t, "Connection established, type your messages\n")
	b.waitFor(t, "Connection received from user ali")
	r.closeStdin()
	r.ended(t)
	b.ended(t)
	return r
}

// Secure mode: bianca reinstalls her terminal (a new key). ali's next chat
// with her warns, naming both keys, and so does every chat until ali
// accepts the new key; after that, none does.
func TestChatWarnsOfAChangedKey(t *testing.T) {
	ali, bianca := aliAndBianca(t, backendtest.Options{Secure: true})
	if r := chatOnce(t, ali, bianca); r.stderr.String() != "" {
		t.Fatalf("the first chat warned: %q", r.stderr.String())
	}
	was := transport.Fingerprint(bianca.Identity.Public)
	bianca = logIn(t, ali.Neighbour(t), "bianca") // her new terminal
	now := transport.Fingerprint(bianca.Identity.Public)
	warning := "Warning: bianca's key has changed since you accepted it (was " + was + ", now " + now + ")"
	for i := range 2 {
		if r := chatOnce(t, ali, bianca); !strings.Contains(r.stderr.String(), warning) {
			t.Fatalf("chat %d with the new key: stderr %q, want %q", i+1, r.stderr.String(), warning)
		}
	}
	if out, errOut, code := pipeRun(t, ali, "", "verify", "bianca", "--accept"); code != 0 || !strings.Contains(out, "Accepted "+now) {
		t.Fatalf("verify --accept: exit %d\nstdout %q\nstderr %q", code, out, errOut)
	}
	if r := chatOnce(t, ali, bianca); r.stderr.String() != "" {
		t.Fatalf("a chat after accepting the key warned: %q", r.stderr.String())
	}
}

// Secure mode: the server hands out a key for bianca that her terminal
// does not have (someone impersonates her, or the server lies): the chat
// is refused and ali is told why.
func TestChatRefusesAWrongKey(t *testing.T) {
	ali, bianca := aliAndBianca(t, backendtest.Options{Secure: true})
	other, err := transport.GenerateIdentity()
	if err != nil {
		t.Fatal(err)
	}
	ali.Net.Server.SetKey("bianca", other.Public)
	b := waiting(t, bianca)
	out, errOut, code := pipeRun(t, ali, "", "chat", "bianca")
	if code != 1 || out != "" || !strings.Contains(errOut, "someone may be impersonating them; chat refused") {
		t.Fatalf("exit %d\nstdout %q\nstderr %q", code, out, errOut)
	}
	b.interrupts <- os.Interrupt // bianca stops waiting: no chat reached her
	b.wait(t)
	if strings.Contains(b.stdout.String(), "Connection") {
		t.Fatalf("bianca saw a chat:\n%s", b.stdout.String())
	}
}
