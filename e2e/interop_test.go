package e2e

import (
	"os/exec"
	"strings"
	"testing"
)

// The course-style peer, written for these tests from the course handouts (docs/protocol.md).
const coursePeer = "coursepeer/peer.py"

// needPython skips when python3 is missing.
func needPython(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 is not installed (apt-get install python3): skipping the course-peer tests")
	}
}

// pyServer is the course-style Python server.
type pyServer struct {
	addr string
	p    *proc
}

// startPythonServer runs the Python server on a free port of 127.0.0.1.
// args are its flags, e.g. --user ali=CRED or --dummy.
func startPythonServer(t testing.TB, args ...string) *pyServer {
	t.Helper()
	needPython(t)
	argv := append([]string{"python3", "-u", coursePeer, "server", "--listen", "127.0.0.1:0"}, args...)
	p := startProc(t, "python server", false, argv...)
	err := p.waitUntil(startTimeout, "its address", func(out string) bool {
		return strings.Contains(out, "Server listening on") && addrRE.MatchString(out)
	})
	if err != nil {
		t.Fatal(err)
	}
	return &pyServer{addr: addrRE.FindString(p.Stdout()), p: p}
}

// withCourseUsers enrols users in the Python server with the credential
// string our terminals send.
func withCourseUsers(users ...string) []string {
	var args []string
	for _, u := range users {
		args = append(args, "--user", u+"="+credentialOf(u))
	}
	return args
}

// asServer lets our terminals use a Python server in plain mode.
func (ps *pyServer) asServer(t testing.TB) *server {
	return &server{t: t, mode: "plain", addr: ps.addr}
}

// startPythonTerminal runs the course-style terminal at a fresh loopback
// address; the chat text is fed through its stdin.
func startPythonTerminal(t testing.TB, serverAddr, user, passcode string, extra ...string) (*chatSession, string) {
	t.Helper()
	needPython(t)
	ip := nextIP()
	argv := append([]string{"python3", "-u", coursePeer, "terminal", "--server", serverAddr,
		"--listen", ip + ":8085", "--bind", ip, "--user", user, "--passcode", passcode}, extra...)
	p := startProc(t, "python terminal "+user+"@"+ip, true, argv...)
	return &chatSession{t: t, p: p}, ip
}

// TestInteropDaemonWithPythonServer: our terminals log in and look each other
// up at a course-style server that answers one request per connection with
// no newline, spells the grant "Granted" and says "location" on NOTFOUND.
func TestInteropDaemonWithPythonServer(t *testing.T) {
	t.Parallel()
	for _, spelling := range []string{"GRANTED", "Granted"} {
		t.Run(spelling, func(t *testing.T) {
			ps := startPythonServer(t, append(withCourseUsers("ali", "bianca"), "--granted-spelling", spelling)...)
			srv := ps.asServer(t)
			ali, bianca := startTerminal(t, srv), startTerminal(t, srv)
			ali.login("ali")
			bianca.login("bianca")
			roundTrip(t, ali, bianca)

			// A wrong passcode is refused.
			carol := startTerminal(t, srv)
			if out, code := carol.tryLogin("ali", "0000"); code != 1 {
				t.Errorf("wrong passcode against the course server: exit %d:\n%s", code, out)
			}
			// NOTFOUND with "location": calling someone not logged in fails
			// cleanly.
			if out := ali.refusedCall("nobody"); strings.Contains(out, established) {
				t.Errorf("calling an unknown user connected:\n%s", out)
			}
		})
	}
}

// TestInteropPythonCallsDaemon: a course-style terminal calls our terminal,
// sending "Ali" and lines without newlines.
func TestInteropPythonCallsDaemon(t *testing.T) {
	t.Parallel()
	ps := startPythonServer(t, append(withCourseUsers("bianca"), "--user", "ali=00123")...)
	bianca := startTerminal(t, ps.asServer(t))
	bianca.login("bianca")
	in := bianca.answer()

	py, _ := startPythonTerminal(t, ps.addr, "ali", "00123", "--call", "bianca", "--initiator-name", "Ali")
	py.expect(established)
	in.expect(received("ali"))
	py.say("Hello, are you there?")
	in.expect("Hello, are you there?")
	in.say("Yes, here I am!")
	py.expect("Yes, here I am!")
	py.hangUp()
	in.expect(ended)
	inOrder(t, "bianca", in.finish(), received("ali"), "Hello, are you there?", ended)
	py.finish()
}

// TestInteropDaemonCallsPython: our terminal calls a course-style terminal,
// which checks the caller's address with its own lookup and answers
// CONNECTREPLY without a newline.
func TestInteropDaemonCallsPython(t *testing.T) {
	t.Parallel()
	ps := startPythonServer(t, append(withCourseUsers("ali"), "--user", "bianca=22456")...)
	ali := startTerminal(t, ps.asServer(t))
	ali.login("ali")

	py, _ := startPythonTerminal(t, ps.addr, "bianca", "22456")
	py.expect("Enter destination user ID:")
	out := ali.call("bianca")
	py.expect(received("ali"))
	out.say("Hello, are you there?")
	py.expect("Hello, are you there?")
	py.say("Yes, here I am!")
	out.expect("Yes, here I am!")
	// Two lines without newlines in quick succession still show up.
	py.say("line one")
	out.expect("line one")
	out.hangUp()
	py.expect(ended)
	inOrder(t, "ali", out.finish(), established, "Yes, here I am!", ended)
}

// TestInteropPythonTerminalWithOurServer: a course terminal logs in to our
// server (plain mode) with the credential string it sends, enrolled with
// --credential, and chats with our terminal.
func TestInteropPythonTerminalWithOurServer(t *testing.T) {
	t.Parallel()
	srv := startServer(t, "plain", []string{"bianca"})
	srv.stop()
	srv.addCredential("ali", "00123")
	srv.start()
	bianca := startTerminal(t, srv)
	bianca.login("bianca")
	in := bianca.answer()
	py, _ := startPythonTerminal(t, srv.addr, "Ali", "00123", "--call", "bianca")
	py.expect(established)
	in.expect(received("ali"))
	py.say("Hello, are you there?")
	in.expect("Hello, are you there?")
	in.say("Yes, here I am!")
	py.expect("Yes, here I am!")
	py.hangUp()
	in.expect(ended)
	in.finish()
}

// TestInteropProbeAgainstPython: `pi2pi-server probe` against the course
// test server passes: the course test client's five requests pass, and the
// framing checks that a one-request-per-connection server cannot answer are
// skipped with the reason, not failed.
func TestInteropProbeAgainstPython(t *testing.T) {
	t.Parallel()
	needBinaries(t)
	ps := startPythonServer(t, "--dummy")
	out, err := exec.Command(serverBin, "probe", ps.addr, "--security", "plain", "--course").CombinedOutput()
	if err != nil {
		t.Fatalf("probe against the course test server: %v\n%s\nserver:\n%s", err, out, ps.p.Stdout())
	}
	pass, skip := 0, 0
	for _, l := range strings.Split(string(out), "\n") {
		switch {
		case strings.HasPrefix(l, "PASS") && strings.Contains(l, "course"):
			pass++
		case strings.HasPrefix(l, "SKIP") && strings.Contains(l, "one request per connection, as course servers do"):
			skip++
		}
	}
	if pass != 5 || skip != 2 {
		t.Errorf("probe against the course test server: %d course checks passed (want 5), %d skipped as one request per connection (want 2):\n%s", pass, skip, out)
	}
}
