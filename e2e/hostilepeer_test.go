package e2e

import (
	"context"
	"crypto/ed25519"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/pi2pi/pi2pi/internal/transport"
	"github.com/pi2pi/pi2pi/internal/wire"
)

// hostileCallee logs in to srv as user (with the right passcode: a rogue
// user on her own terminal) from a fresh address, then answers every
// CONNECTREQ on port 8085 with answer.
func hostileCallee(t *testing.T, srv *server, user string, answer func(c net.Conn)) {
	t.Helper()
	ip := nextIP()
	id, err := transport.GenerateIdentity()
	if err != nil {
		t.Fatal(err)
	}
	c, err := dialAs(srv.mode, ip, srv.addr, id)
	if err != nil {
		t.Fatalf("hostile callee: %v", err)
	}
	rep, err := ask(c, wire.Message{Type: wire.AuthReq, UserID: user, Passcode: credentialOf(user)})
	c.Close()
	if err != nil || rep.Status != wire.Granted {
		t.Fatalf("hostile callee's login: %+v, %v", rep, err)
	}
	cfg := &transport.Config{Mode: transport.Mode(srv.mode), Identity: id}
	ln, err := transport.Listen(cfg, ip+":8085")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { ln.Close(); <-done })
	go func() {
		defer close(done)
		for {
			raw, err := ln.Accept()
			if err != nil {
				return
			}
			ctx, cancel := context.WithTimeout(context.Background(), stepTimeout)
			conn, err := cfg.Server(ctx, raw, func(ed25519.PublicKey) error { return nil })
			cancel()
			if err != nil {
				continue
			}
			_ = conn.SetDeadline(time.Now().Add(stepTimeout))
			if _, err := wire.NewDecoder(conn).Decode(); err == nil {
				answer(conn)
			}
			conn.Close()
		}
	}()
}

// escapes is what a hostile peer would like to reach ali's screen: a
// clipboard write (OSC 52), a title change, a screen clear and home.
const escapes = "\x1b]52;c;cm0gLXJmIH4=\x07\x1b]0;pwned\x07\x1b[2J\x1b[H"

func noEscapes(t *testing.T, what, s string) {
	t.Helper()
	if strings.ContainsAny(s, "\x1b\x07\u009b\u009d") || strings.Contains(s, "pwned") || strings.Contains(s, "cm0gLXJmIH4") {
		t.Errorf("%s carries the peer's escape sequences:\n%q", what, s)
	}
}

// TestHostileCalleeRefusal: bianca's terminal is hostile and answers
// REFUSED with a reason full of escape sequences. ali's pi2pictl, through
// the real pi2pid, shows neither the escapes nor the reason's text.
func TestHostileCalleeRefusal(t *testing.T) {
	needBinaries(t)
	t.Parallel()
	srv := startServer(t, "secure", []string{"ali", "bianca"})
	ali := startTerminal(t, srv)
	ali.login("ali")
	hostileCallee(t, srv, "bianca", func(c net.Conn) {
		_ = wire.Write(c, wire.Message{Type: wire.ConnectReply, Status: wire.Refused, Reason: escapes + "you are \u202enot welcome\u200b"})
	})
	out, errOut, code := ali.ctl("", "chat", "bianca")
	if code != 1 {
		t.Fatalf("chat with the hostile callee: exit %d\nstdout %q\nstderr %q", code, out, errOut)
	}
	noEscapes(t, "stdout", out)
	noEscapes(t, "stderr", errOut)
	if strings.Contains(errOut, "welcome") || !strings.Contains(errOut, "reason pi2pi does not know") {
		t.Errorf("stderr %q: want the fixed wording for an unknown reason", errOut)
	}
}

// TestHostilePeerText: bianca's terminal accepts, then sends lines that
// imitate pi2pictl's own ("Connection ended", "Login: ") with escape
// sequences and invisible characters. Each shows on ali's screen behind
// "bianca> ", cleaned.
func TestHostilePeerText(t *testing.T) {
	needBinaries(t)
	t.Parallel()
	srv := startServer(t, "secure", []string{"ali", "bianca"})
	ali := startTerminal(t, srv)
	ali.login("ali")
	hostileCallee(t, srv, "bianca", func(c net.Conn) {
		_ = wire.Write(c, wire.Message{Type: wire.ConnectReply, Status: wire.Accepted})
		_, _ = c.Write([]byte("Connection ended\n" + escapes + "Log\u200bin:\u2060 \n\ufeffEnter passcode on keypad.\u2028"))
	})
	out, errOut, code := ali.ctl("", "chat", "bianca")
	noEscapes(t, "stdout", out)
	noEscapes(t, "stderr", errOut)
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	want := []string{
		"Connection established, type your messages",
		"bianca> Connection ended",
		"bianca> Login: ",
		"bianca> Enter passcode on keypad.",
		"Connection ended",
	}
	var got []string
	for _, l := range lines {
		if !strings.HasPrefix(l, "Safety code: ") {
			got = append(got, l)
		}
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("exit %d; stdout:\n%q\nwant:\n%q\nstderr %q", code, got, want, errOut)
	}
}
