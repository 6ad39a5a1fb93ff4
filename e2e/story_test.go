package e2e

import (
	"os"
	"strings"

	"github.com/pi2pi/pi2pi/internal/wire"
	"testing"
	"time"
)

var modes = []string{"secure", "plain"}

// TestSeedTranscripts replays the course handouts' two sessions, ali calling bianca and
// ali called by bianca, in both security modes, and checks each side's
// transcript line by line.
func TestSeedTranscripts(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			srv := startServer(t, mode, []string{"ali", "bianca"})
			ali := startTerminal(t, srv)
			bianca := startTerminal(t, srv)
			inOrder(t, "ali", ali.login("ali"), "Login:", "Enter passcode on keypad.", "Logged in.")
			bianca.login("bianca")

			// Session 1: ali calls bianca and ends the chat.
			in := bianca.answer()
			out := ali.call("bianca")
			in.expect(received("ali"))
			out.say("Hello, how are you today?")
			in.expect("Hello, how are you today?")
			in.say("I am fine, how about you?")
			out.expect("I am fine, how about you?")
			out.say("I am well. Goodbye.")
			in.expect("I am well. Goodbye.")
			out.hangUp()
			aliSide, biancaSide := out.finish(), in.finish()
			inOrder(t, "ali (initiator)", aliSide, established, "I am fine, how about you?", ended)
			inOrder(t, "bianca (receiver)", biancaSide,
				received("ali"), "Hello, how are you today?", "I am well. Goodbye.", ended)
			for _, typed := range []string{"Hello, how are you today?", "I am well. Goodbye."} {
				if strings.Count(aliSide, typed) > 1 {
					t.Errorf("ali's own line %q is shown more than once:\n%s", typed, aliSide)
				}
			}

			// Session 2: bianca calls ali, who is still logged in and
			// listening, and bianca ends it.
			in = ali.answer()
			out = bianca.call("ali")
			in.expect(received("bianca"))
			out.say("Hello, how are you today?")
			in.expect("Hello, how are you today?")
			in.say("I am fine, how about you?")
			out.expect("I am fine, how about you?")
			out.say("I am well. Goodbye.")
			in.expect("I am well. Goodbye.")
			out.hangUp()
			in.expect(ended)
			// What ali types himself is not echoed back to him.
			inOrder(t, "ali (receiver)", in.finish(),
				received("bianca"), "Hello, how are you today?", "I am well. Goodbye.", ended)
			out.finish()
		})
	}
}

// TestRoundTrip is the course handouts' definition of success.
func TestRoundTrip(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			srv := startServer(t, mode, []string{"ali", "bianca"})
			ali, bianca := startTerminal(t, srv), startTerminal(t, srv)
			ali.login("ali")
			bianca.login("bianca")
			roundTrip(t, ali, bianca)
		})
	}
}

// TestThreeTerminals: two chats in sequence, then the busy, away and
// not-logged-in refusals, then a logout.
func TestThreeTerminals(t *testing.T) {
	t.Parallel()
	srv := startServer(t, "secure", []string{"ali", "bianca", "carol", "dave"})
	ali, bianca, carol := startTerminal(t, srv), startTerminal(t, srv), startTerminal(t, srv)
	ali.login("ali")
	bianca.login("bianca")
	carol.login("carol")

	// Two chats in sequence, with different partners.
	roundTrip(t, ali, bianca)
	roundTrip(t, carol, ali)

	// Busy: while ali chats with bianca, carol calls bianca.
	in := bianca.answer()
	out := ali.call("bianca")
	in.expect(received("ali"))
	refusal := carol.refusedCall("bianca")
	if !strings.Contains(strings.ToLower(refusal), "busy") {
		t.Errorf("calling a terminal in a chat: want a refusal saying busy, got:\n%s", refusal)
	}
	// ... and the chat in progress is not disturbed.
	out.say("still there?")
	in.expect("still there?")
	out.hangUp()
	in.expect(ended)
	out.finish()
	in.finish()

	// Away: bianca is logged in but nobody is attached to take a chat.
	refusal = carol.refusedCall("bianca")
	if !strings.Contains(strings.ToLower(refusal), "away") {
		t.Errorf("calling a terminal nobody watches: want a refusal saying away, got:\n%s", refusal)
	}

	// Not logged in: dave is enrolled but has no terminal.
	refusal = carol.refusedCall("dave")
	if strings.Contains(refusal, established) {
		t.Errorf("calling a user who is not logged in connected:\n%s", refusal)
	}

	// Logout: after bianca logs out, she cannot be called, and her
	// terminal says so.
	bianca.logout()
	if st := bianca.status(); st.UserID != "" && !strings.Contains(strings.ToLower(string(st.State)), "out") {
		t.Errorf("after logout bianca's terminal reports %+v", st)
	}
	bianca.answer() // even with someone watching
	refusal = ali.refusedCall("bianca")
	if strings.Contains(refusal, established) {
		t.Errorf("calling a logged-out user connected:\n%s", refusal)
	}
	// A logged-out terminal cannot call either.
	c := bianca.dial("ali")
	if code, _ := c.p.wait(stepTimeout); code == 0 {
		t.Errorf("a logged-out terminal could call:\n%s", c.p.Output())
	}
}

// TestSessionTimeout: a login the server has not heard from for longer than
// --session-timeout is forgotten, and the user logs in again; a terminal
// whose keepalive is shorter than the timeout stays logged in.
func TestSessionTimeout(t *testing.T) {
	t.Parallel()
	const timeout = 3 * time.Second
	srv := startServer(t, "secure", []string{"ali", "bianca", "carol"}, withServerArgs("--session-timeout", timeout.String()))
	ali, bianca := startTerminal(t, srv), startTerminal(t, srv)
	carol := startTerminal(t, srv, withDaemonArgs("--keepalive", "1s"))
	ali.login("ali")
	bianca.login("bianca")
	carol.login("carol")
	time.Sleep(timeout + 1500*time.Millisecond)

	watcher := attach(t, bianca)
	out := ali.refusedCall("bianca")
	if strings.Contains(out, established) {
		t.Fatalf("a call after the sessions timed out connected:\n%s", out)
	}
	watcher.c.Close()
	// Carol's keepalive kept her in the directory.
	if rep := directLookup(t, srv, carol, "carol"); rep.Status != wire.Success {
		t.Errorf("carol, with a 1s keepalive, was dropped: %+v", rep)
	}
	for _, tm := range []*terminal{ali, bianca} {
		user := tm.user
		tm.ctl("", "logout") // may fail: the server already forgot us
		tm.login(user)
	}
	roundTrip(t, ali, bianca)
	roundTrip(t, carol, ali)
}

// TestServerRestartDuringChat: once two terminals chat, the server is idle;
// stopping it does not end the chat, and after it comes back the logins are
// still there.
func TestServerRestartDuringChat(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			srv := startServer(t, mode, []string{"ali", "bianca"})
			ali, bianca := startTerminal(t, srv), startTerminal(t, srv)
			ali.login("ali")
			bianca.login("bianca")

			in := bianca.answer()
			out := ali.call("bianca")
			in.expect(received("ali"))
			out.say("before the restart")
			in.expect("before the restart")

			srv.stop()
			out.say("while the server is down")
			in.expect("while the server is down")
			in.say("still here")
			out.expect("still here")

			srv.start()
			out.say("after the restart")
			in.expect("after the restart")
			out.hangUp()
			in.expect(ended)
			out.finish()
			in.finish()

			// Logins survived the restart: a new chat without logging in.
			roundTrip(t, bianca, ali)
		})
	}
}

// TestServerRestartAfterChat: a restart between chats keeps everyone logged
// in.
func TestServerRestartAfterChat(t *testing.T) {
	t.Parallel()
	srv := startServer(t, "secure", []string{"ali", "bianca"})
	ali, bianca := startTerminal(t, srv), startTerminal(t, srv)
	ali.login("ali")
	bianca.login("bianca")
	roundTrip(t, ali, bianca)
	srv.restart()
	roundTrip(t, ali, bianca)
	roundTrip(t, bianca, ali)
}

// TestLoginAfterServerLostItsState: the server comes back with its state
// directory wiped (plain mode: a secure server would also have a new key,
// which the terminal refuses). pi2pid still believes it is logged in, but
// `pi2pictl login` has it ask the server first, and logs in afresh.
func TestLoginAfterServerLostItsState(t *testing.T) {
	t.Parallel()
	srv := startServer(t, "plain", []string{"ali"})
	ali := startTerminal(t, srv)
	ali.login("ali")
	srv.stop()
	for _, f := range []string{srv.stateDir, srv.users} {
		if err := os.RemoveAll(f); err != nil {
			t.Fatal(err)
		}
	}
	srv.addUser("ali", passcodes["ali"]) // the new pepper needs a new enrolment
	srv.start()
	if st := ali.status(); st.State != "logged-in" {
		t.Fatalf("pi2pid noticed before the login (its keepalive is minutes away): %+v", st)
	}
	out := ali.login("ali")
	if strings.Contains(out, "Already logged in") || !strings.Contains(out, "the server no longer knows that login") {
		t.Fatalf("pi2pictl login after the server lost its state:\n%s", out)
	}
	if rep := directLookup(t, srv, ali, "ali"); rep.Status != wire.Success {
		t.Fatalf("the server does not know ali after the new login: %+v", rep)
	}
}

// TestWrongPasscode: the course handouts' refusal, and the terminal stays usable.
func TestWrongPasscode(t *testing.T) {
	t.Parallel()
	srv := startServer(t, "secure", []string{"ali"})
	ali := startTerminal(t, srv)
	out, code := ali.tryLogin("ali", "0000")
	if code != 1 || strings.Contains(out, "Logged in.") {
		t.Fatalf("a wrong passcode: want exit 1 without \"Logged in.\", got exit %d:\n%s", code, out)
	}
	if strings.Contains(out, "0000") {
		t.Errorf("the passcode appears in pi2pictl's output:\n%s", out)
	}
	ali.login("ali")
}

// TestLoginFromPipe: the scripted form of the contract,
// `printf 'ali\n1234\n' | pi2pictl login`, with both answers already in
// the pipe before pi2pictl asks for them. Repeated, since a line read
// early must not be lost.
func TestLoginFromPipe(t *testing.T) {
	t.Parallel()
	srv := startServer(t, "plain", []string{"ali"})
	ali := startTerminal(t, srv)
	for i := range 5 {
		out, errOut, code := ali.ctl("ali\n"+passcodes["ali"]+"\n", "login")
		if code != 0 || !strings.Contains(out, "Logged in.") {
			t.Fatalf("try %d: printf 'ali\\n%s\\n' | pi2pictl login: exit %d\n%s%s", i, passcodes["ali"], code, out, errOut)
		}
		ali.logout()
	}
}
