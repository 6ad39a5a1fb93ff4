package cli

import (
	"strings"
	"testing"
	"time"

	"github.com/pi2pi/pi2pi/daemon/backend/backendtest"
	"github.com/pi2pi/pi2pi/daemon/directory/directorytest"
)

// The tests here run pi2pictl against pi2pid's real core, in process
// (daemon/backend/backendtest): the real state machine, console keypad,
// control socket and peer protocol, with an in-memory pi2pi-server. The
// other side of a chat is bianca's terminal beside it, driven by her own
// pi2pictl.

// daemon starts one logged-out terminal, ali's.
func daemon(t *testing.T, o backendtest.Options) *backendtest.Terminal {
	t.Helper()
	return backendtest.Start(t, o)
}

// logIn logs tm in as user with `pi2pictl login` and forgets the keys
// that pressed; it returns tm.
func logIn(t *testing.T, tm *backendtest.Terminal, user string) *backendtest.Terminal {
	t.Helper()
	out, errOut, code := pipeRun(t, tm, user+"\n"+directorytest.Passcodes[user]+"\n", "login")
	if code != 0 || !strings.Contains(out, "Logged in.") {
		t.Fatalf("login %s: exit %d\nstdout %q\nstderr %q", user, code, out, errOut)
	}
	keys(tm)
	return tm
}

// aliAndBianca starts ali's terminal, logged in, and bianca's beside it,
// logged in too.
func aliAndBianca(t *testing.T, o backendtest.Options) (ali, bianca *backendtest.Terminal) {
	t.Helper()
	ali = logIn(t, daemon(t, o), "ali")
	bianca = logIn(t, ali.Neighbour(t), "bianca")
	return ali, bianca
}

// waiting runs `pi2pictl wait` on tm and returns once it has attached:
// a call then reaches it.
func waiting(t *testing.T, tm *backendtest.Terminal) *run {
	t.Helper()
	r := start(t, tm, "wait")
	tm.WaitAttached(t)
	return r
}

// keys returns the console keys tm's keypad has taken since the last call.
// keysAre waits until the keys the keypad took are want: the keypad's spy
// records a key once its press returned, which may be after pi2pictl has
// seen the login it ended.
func keysAre(t *testing.T, tm *backendtest.Terminal, want string) {
	t.Helper()
	var got []string
	deadline := time.After(5 * time.Second)
	for strings.Join(got, ",") != want {
		select {
		case k := <-tm.Keys:
			got = append(got, string(k))
		case <-deadline:
			t.Fatalf("keys = %s, want %s", strings.Join(got, ","), want)
		}
	}
}

func keys(tm *backendtest.Terminal) string {
	var out []string
	for {
		select {
		case k := <-tm.Keys:
			out = append(out, string(k))
		default:
			return strings.Join(out, ",")
		}
	}
}

// ended waits until r, one side of a chat, ended with exit 0 and
// "Connection ended" as its last line.
func (r *run) ended(t *testing.T) {
	t.Helper()
	if code := r.wait(t); code != 0 {
		t.Fatalf("exit %d\nstdout %q\nstderr %q", code, r.stdout.String(), r.stderr.String())
	}
	if !strings.HasSuffix(r.stdout.String(), "Connection ended\n") {
		t.Fatalf("stdout %q, want it to end with Connection ended", r.stdout.String())
	}
}
