package cli

import (
	"net"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/pi2pi/pi2pi/daemon/backend/backendtest"
	"github.com/pi2pi/pi2pi/internal/transport"
	"github.com/pi2pi/pi2pi/internal/wire"
)

// safetyLine finds the safety code line of a chat transcript.
var safetyLine = regexp.MustCompile(`Safety code: ([0-9 ]+) \(compare it with (\w+) by voice\)\n`)

func TestChatFromPipe(t *testing.T) {
	ali, bianca := aliAndBianca(t, backendtest.Options{Secure: true})
	b := waiting(t, bianca)
	r := start(t, ali, "chat", "bianca")
	r.waitFor(t, "Connection established, type your messages\n")
	b.waitFor(t, "Connection received from user ali, type your messages\n")
	r.type_("Hello, how are you today?\n")
	b.waitFor(t, "Hello, how are you today?\n")
	// Bianca answers in two chunks, with an attempt to retitle the window.
	b.type_("I am fine, \x1b]0;pwned\x07how ")
	b.type_("about you?\n")
	r.waitFor(t, "I am fine, how about you?\n")
	r.type_("I am well. Goodbye.\n")
	r.closeStdin()
	r.ended(t)
	b.ended(t)
	m := safetyLine.FindStringSubmatch(r.stdout.String())
	if m == nil || m[2] != "bianca" {
		t.Fatalf("ali was shown no safety code to compare with bianca:\n%s", r.stdout.String())
	}
	want := "Connection established, type your messages\n" + m[0] +
		"I am fine, how about you?\n" +
		"Connection ended\n"
	if got := r.stdout.String(); got != want {
		t.Fatalf("ali's stdout:\n%q\nwant\n%q", got, want)
	}
	want = "Connection received from user ali, type your messages\n" +
		"Safety code: " + m[1] + " (compare it with ali by voice)\n" +
		"Hello, how are you today?\nI am well. Goodbye.\nConnection ended\n"
	if got := b.stdout.String(); got != want {
		t.Fatalf("bianca's stdout:\n%q\nwant\n%q", got, want)
	}
}

func TestChatPeerEnds(t *testing.T) {
	ali, bianca := aliAndBianca(t, backendtest.Options{})
	b := waiting(t, bianca)
	r := start(t, ali, "chat", "bianca")
	r.waitFor(t, "Connection established, type your messages\n")
	b.waitFor(t, "Connection received from user ali, type your messages\n")
	b.type_("bye") // no newline: shown when the chat ends
	b.closeStdin()
	b.ended(t)
	r.ended(t)
	want := "Connection established, type your messages\nbye\nConnection ended\n"
	if got := r.stdout.String(); got != want {
		t.Fatalf("stdout %q, want %q", got, want)
	}
}

// Calls refused: the callee not logged in (the server says so), logged in
// but away, busy in another chat, or a hostile terminal's odd refusal.
func TestChatRefusals(t *testing.T) {
	ali, bianca := aliAndBianca(t, backendtest.Options{})
	carol := logIn(t, ali.Neighbour(t), "carol")
	check := func(callee, want string) {
		t.Helper()
		out, errOut, code := pipeRun(t, ali, "", "chat", callee)
		if code != 1 || out != "" || !strings.Contains(errOut, want) || strings.ContainsAny(errOut, "\x1b\x07") {
			t.Errorf("chat %s: exit %d\nstdout %q\nstderr %q", callee, code, out, errOut)
		}
	}
	check("dave", "dave is not logged in.")
	check("bianca", "bianca is logged in but away")
	// frank's terminal is hostile: its refusal's reason is escape
	// sequences. pi2pid passes on no reason it does not know.
	frank := hostileCallee(t, ali.Net, "frank", "\x1b]0;pwned\x07\x1b[2Jbusy")
	check("frank", "frank's terminal refused the chat (it gave a reason pi2pi does not know).")
	<-frank
	// Carol chats with bianca: bianca is busy.
	b := waiting(t, bianca)
	c := start(t, carol, "chat", "bianca")
	c.waitFor(t, "Connection established, type your messages\n")
	b.waitFor(t, "Connection received from user carol")
	check("bianca", "bianca is busy in another chat")
	c.closeStdin()
	c.ended(t)
	b.ended(t)
}

func TestChatNotLoggedIn(t *testing.T) {
	d := daemon(t, backendtest.Options{})
	_, errOut, code := pipeRun(t, d, "", "chat", "bianca")
	if code != 1 || !strings.Contains(errOut, "not logged in") {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
}

func TestWaitFromPipe(t *testing.T) {
	ali, bianca := aliAndBianca(t, backendtest.Options{})
	r := waiting(t, ali)
	c := start(t, bianca, "chat", "ali")
	r.waitFor(t, "Connection received from user bianca, type your messages\n")
	c.waitFor(t, "Connection established, type your messages\n")
	c.type_("Hello, how are you today?\n")
	r.waitFor(t, "Hello, how are you today?\n")
	r.type_("I am fine, how about you?\n")
	c.waitFor(t, "I am fine, how about you?\n")
	c.type_("I am well. Goodbye.\n")
	c.closeStdin()
	c.ended(t)
	r.ended(t)
	want := "Connection received from user bianca, type your messages\n" +
		"Hello, how are you today?\nI am well. Goodbye.\nConnection ended\n"
	if got := r.stdout.String(); got != want {
		t.Fatalf("stdout %q, want %q", got, want)
	}
}

func TestInterruptEndsChat(t *testing.T) {
	ali, bianca := aliAndBianca(t, backendtest.Options{})
	b := waiting(t, bianca)
	r := start(t, ali, "chat", "bianca")
	r.waitFor(t, "Connection established, type your messages\n")
	b.waitFor(t, "Connection received from user ali")
	r.interrupts <- os.Interrupt
	r.ended(t)
	b.ended(t) // the end reached bianca
}

func TestShellFromPipe(t *testing.T) {
	ali := daemon(t, backendtest.Options{})
	bianca := logIn(t, ali.Neighbour(t), "bianca")
	b := waiting(t, bianca)
	r := start(t, ali)
	r.type_("ali\n1234\nbianca\n")
	r.waitFor(t, "Connection established, type your messages\n")
	r.type_("Hello, how are you today?\n")
	b.waitFor(t, "Hello, how are you today?\n")
	b.type_("I am fine, how about you?\n")
	r.waitFor(t, "I am fine, how about you?\n")
	b.closeStdin() // bianca ends the chat
	b.ended(t)
	// Back at the destination prompt, a chat comes in.
	ali.WaitAttached(t) // first attach, before the chat
	ali.WaitAttached(t) // again after it
	c := start(t, bianca, "chat", "ali")
	c.waitFor(t, "Connection established")
	r.waitFor(t, "Connection received from user bianca")
	c.closeStdin()
	c.ended(t)
	ali.WaitAttached(t)
	r.closeStdin()
	if code := r.wait(t); code != 0 {
		t.Fatalf("exit %d, stderr %s", code, r.stderr.String())
	}
	want := "Login: ali\n" +
		"Enter passcode on keypad.\n" +
		"Logged in.\n" +
		"Enter destination user ID: bianca\n" +
		"Connection established, type your messages\n" +
		"I am fine, how about you?\n" +
		"Connection ended\n" +
		"Enter destination user ID: \n" +
		"Connection received from user bianca, type your messages\n" +
		"Connection ended\n" +
		"Enter destination user ID: \n"
	if got := r.stdout.String(); got != want {
		t.Fatalf("stdout:\n%s\nwant:\n%s", got, want)
	}
}

// verify outside a chat shows both keys in full; during one, the chat's
// safety code, the same on both sides. In plain mode there is none.
func TestVerify(t *testing.T) {
	ali, bianca := aliAndBianca(t, backendtest.Options{Secure: true})
	aliKey, biancaKey := transport.Fingerprint(ali.Identity.Public), transport.Fingerprint(bianca.Identity.Public)
	out, errOut, code := pipeRun(t, ali, "", "verify", "bianca")
	if code != 0 || !strings.Contains(out, "No chat with bianca now") ||
		!strings.Contains(out, "Your key:    "+aliKey+"\n") || !strings.Contains(out, "bianca's key: "+biancaKey+"\n") {
		t.Fatalf("exit %d\nstdout %q\nstderr %q", code, out, errOut)
	}

	b := waiting(t, bianca)
	r := start(t, ali, "chat", "bianca")
	r.waitFor(t, "Connection established, type your messages\n")
	b.waitFor(t, "Connection received from user ali")
	r.waitFor(t, "by voice)\n")
	m := safetyLine.FindStringSubmatch(r.stdout.String())
	if m == nil {
		t.Fatalf("no safety code in the chat:\n%s", r.stdout.String())
	}
	out, errOut, code = pipeRun(t, ali, "", "verify", "bianca")
	if code != 0 || !strings.Contains(out, m[0]) || !strings.Contains(out, "bianca's key: "+biancaKey) {
		t.Fatalf("during the chat: exit %d\nstdout %q\nstderr %q\nwant %q", code, out, errOut, m[0])
	}
	out, errOut, code = pipeRun(t, bianca, "", "verify", "ali")
	if code != 0 || !strings.Contains(out, "Safety code: "+m[1]+" (compare it with ali by voice)\n") {
		t.Fatalf("bianca during the chat: exit %d\nstdout %q\nstderr %q", code, out, errOut)
	}
	r.closeStdin()
	r.ended(t)
	b.ended(t)

	ali, _ = aliAndBianca(t, backendtest.Options{})
	_, errOut, code = pipeRun(t, ali, "", "verify", "bianca")
	if code != 1 || !strings.Contains(errOut, "secure mode") {
		t.Fatalf("plain: exit %d, stderr %q", code, errOut)
	}
}

// TestVerifyAccept: --accept, after the user ID or before it, one-shot
// or in the shell, asks pi2pid to accept the key and says so.
func TestVerifyAccept(t *testing.T) {
	ali, bianca := aliAndBianca(t, backendtest.Options{Secure: true})
	accepted := "Accepted " + transport.Fingerprint(bianca.Identity.Public) + " as bianca's key."
	for _, args := range [][]string{{"verify", "bianca", "--accept"}, {"verify", "--accept", "bianca"}} {
		out, errOut, code := pipeRun(t, ali, "", args...)
		if code != 0 || !strings.Contains(out, accepted) {
			t.Fatalf("%q: exit %d\nstdout %q\nstderr %q", args, code, out, errOut)
		}
	}
	out, errOut, code := pipeRun(t, nil, "/verify bianca --accept\n", "--socket", ali.Socket)
	if code != 0 || !strings.Contains(out, accepted) {
		t.Fatalf("shell: exit %d\nstdout %q\nstderr %q", code, out, errOut)
	}
	out, errOut, code = pipeRun(t, ali, "", "verify", "bianca")
	if code != 0 || strings.Contains(out, "Accepted") {
		t.Fatalf("verify without --accept: exit %d\nstdout %q\nstderr %q", code, out, errOut)
	}
}

// hostileCallee logs user in at the network's last address, where a
// course-style terminal answers one chat request with a refusal giving
// reason; the channel closes once it has answered.
func hostileCallee(t *testing.T, n *backendtest.Network, user, reason string) <-chan struct{} {
	t.Helper()
	ip := backendtest.IPs[len(backendtest.IPs)-1]
	ln, err := net.Listen("tcp", net.JoinHostPort(ip, strconv.Itoa(n.Port)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	n.Server.Login(user, ip, nil)
	done := make(chan struct{})
	go func() {
		defer close(done)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		if _, err := wire.NewDecoder(c).Decode(); err == nil {
			_ = wire.Write(c, wire.Message{Type: wire.ConnectReply, Status: wire.Refused, Reason: reason})
		}
	}()
	return done
}
