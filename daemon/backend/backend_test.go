package backend

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pi2pi/pi2pi/daemon/directory"
	"github.com/pi2pi/pi2pi/daemon/internal/leaktest"
	"github.com/pi2pi/pi2pi/daemon/terminal"
	"github.com/pi2pi/pi2pi/internal/control"
	"github.com/pi2pi/pi2pi/internal/transport"
	"github.com/pi2pi/pi2pi/internal/wire"
)

func TestChatBothWays(t *testing.T) {
	for _, mode := range []transport.Mode{transport.Plain, transport.Secure} {
		t.Run(string(mode), func(t *testing.T) {
			_, _, _, ali, bianca := pair(t, mode)
			ali.Must(control.Request{Op: control.OpChat, UserID: "Bianca"})
			out := ali.Next(control.EventChatStart)
			in := bianca.Next(control.EventChatStart)
			if out.Peer != "bianca" || in.Peer != "ali" || in.Direction != "incoming" {
				t.Fatalf("%+v %+v", out, in)
			}
			if mode == transport.Secure {
				want := out.SafetyCode
				if !regexp.MustCompile(`^[0-9]{4}( [0-9]{4}){4}$`).MatchString(want) || in.SafetyCode != want {
					t.Fatalf("safety codes %q %q, want %q", out.SafetyCode, in.SafetyCode, want)
				}
				if st := ali.Must(control.Request{Op: control.OpStatus}).Status; st.SafetyCode != want || st.Peer != "bianca" {
					t.Fatalf("status %+v", st)
				}
			}
			ali.Send("Hello, are you there?\n")
			bianca.ReadText("Hello, are you there?\n")
			bianca.Send("Yes, here I am!\n")
			ali.ReadText("Yes, here I am!\n")
			bianca.End()
			if ev := ali.Next(control.EventChatEnd); ev.Error != "" {
				t.Fatalf("ali's chat-end: %q", ev.Error)
			}
			bianca.Next(control.EventChatEnd)
			ali.WaitState("logged-in")
			bianca.WaitState("logged-in")
			// And again, the other way round.
			ali.Must(control.Request{Op: control.OpWait})
			bianca.Must(control.Request{Op: control.OpChat, UserID: "ali"})
			ali.Next(control.EventChatStart)
			bianca.End()
			ali.Next(control.EventChatEnd)
		})
	}
}

func TestChatRefusals(t *testing.T) {
	srv, _, biancaT, ali, bianca := pair(t, transport.Plain)
	if e := ali.Refused(control.Request{Op: control.OpChat, UserID: "zed"}, control.CodeNotFound); e.Peer != "zed" {
		t.Fatalf("%#v does not name zed", e)
	}
	ali.Refused(control.Request{Op: control.OpChat, UserID: "ali"}, control.CodeSelf)
	ali.Refused(control.Request{Op: control.OpChat, UserID: "bad id!"}, control.CodeBadUserID)
	if e := ali.Refused(control.Request{Op: control.OpLogin, UserID: "ali"}, control.CodeLoggedIn); e.UserID != "ali" {
		t.Fatalf("%#v does not name ali", e)
	}

	// Nobody attached on bianca's side: "away".
	bianca.C.Close()
	waitFor(t, func() bool { return biancaT.waiter() == nil })
	ali.Refused(control.Request{Op: control.OpChat, UserID: "bianca"}, control.CodeAway)

	// Busy: bianca chats with ali, carol calls bianca.
	bianca = attach(t, biancaT.sock)
	bianca.Must(control.Request{Op: control.OpWait})
	ali.Must(control.Request{Op: control.OpChat, UserID: "bianca"})
	bianca.Next(control.EventChatStart)
	carolT := newTerm(t, srv, transport.Plain, "127.0.0.4", biancaT.opt.PeerPort)
	carol := attach(t, carolT.sock)
	carol.LogIn("carol", "1111")
	carol.Refused(control.Request{Op: control.OpChat, UserID: "bianca"}, control.CodeBusy)
	if e := ali.Refused(control.Request{Op: control.OpChat, UserID: "carol"}, control.CodeChatting); e.Peer != "bianca" {
		t.Fatalf("%#v: want ali's own chat with bianca named", e)
	}
	if bianca.State() != "chatting" {
		t.Fatal("the refused request disturbed the chat")
	}
	ali.Send("still here\n")
	bianca.ReadText("still here\n")
}

// rawPeer connects to a terminal from ip, as a course-style peer would.
func rawPeer(t *testing.T, ip string, to *term) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: time.Second}
	c, err := d.Dial("tcp", net.JoinHostPort(to.ip, fmt.Sprint(to.opt.PeerPort)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	return c
}

func connectReply(t *testing.T, c net.Conn, send string) wire.Message {
	t.Helper()
	if send != "" {
		if _, err := io.WriteString(c, send); err != nil {
			t.Fatal(err)
		}
	}
	m, err := wire.NewDecoder(c).Decode()
	if err != nil {
		t.Fatalf("no CONNECTREPLY: %v", err)
	}
	return m
}

// The "Bad input on 8085" list: each gets a clear answer and the daemon
// keeps serving.
func TestPeerPortBadInput(t *testing.T) {
	srv, _, biancaT, ali, bianca := pair(t, transport.Plain)
	srv.Login("carol", "127.0.0.4", nil)
	stillServes := func() {
		t.Helper()
		ali.Must(control.Request{Op: control.OpChat, UserID: "bianca"})
		bianca.Next(control.EventChatStart)
		ali.End()
		bianca.Next(control.EventChatEnd)
		ali.Next(control.EventChatEnd)
		bianca.WaitState("logged-in")
	}
	t.Run("garbage", func(t *testing.T) {
		c := rawPeer(t, "127.0.0.4", biancaT)
		m := connectReply(t, c, "\x16\x03\x01garbage\r\n")
		if m.Status != wire.Refused || m.Reason != "malformed request" {
			t.Fatalf("%+v", m)
		}
		stillServes()
	})
	t.Run("unknown initiator", func(t *testing.T) {
		c := rawPeer(t, "127.0.0.4", biancaT)
		m := connectReply(t, c, `{"msgtype":"CONNECTREQ","initiator":"zed"}`)
		if m.Status != wire.Refused || m.Reason != reasonNotVerified {
			t.Fatalf("%+v", m)
		}
		stillServes()
	})
	t.Run("logged-out initiator", func(t *testing.T) {
		srv.Forget("carol")
		defer srv.Login("carol", "127.0.0.4", nil)
		c := rawPeer(t, "127.0.0.4", biancaT)
		m := connectReply(t, c, `{"msgtype":"CONNECTREQ","initiator":"carol"}`)
		if m.Status != wire.Refused || m.Reason != reasonNotVerified {
			t.Fatalf("%+v", m)
		}
	})
	t.Run("address mismatch", func(t *testing.T) {
		// carol at 127.0.0.4 claims to be ali (logged in at 127.0.0.2).
		c := rawPeer(t, "127.0.0.4", biancaT)
		m := connectReply(t, c, `{"msgtype": "CONNECTREQ", "initiator": "Ali"}`)
		if m.Status != wire.Refused || m.Reason != reasonNotVerified {
			t.Fatalf("%+v", m)
		}
		stillServes()
	})
	t.Run("second CONNECTREQ while chatting", func(t *testing.T) {
		ali.Must(control.Request{Op: control.OpChat, UserID: "bianca"})
		bianca.Next(control.EventChatStart)
		c := rawPeer(t, "127.0.0.4", biancaT)
		m := connectReply(t, c, `{"msgtype":"CONNECTREQ","initiator":"carol"}`)
		if m.Status != wire.Refused || m.Reason != wire.ReasonBusy {
			t.Fatalf("%+v", m)
		}
		ali.End()
		bianca.Next(control.EventChatEnd)
		ali.Next(control.EventChatEnd)
		bianca.WaitState("logged-in")
	})
	t.Run("silent peer", func(t *testing.T) {
		c := rawPeer(t, "127.0.0.4", biancaT)
		start := time.Now()
		if _, err := c.Read(make([]byte, 1)); err == nil {
			t.Fatal("silent peer got data")
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("silent peer held for %s", d)
		}
		stillServes()
	})
	t.Run("peer vanishes mid-chat", func(t *testing.T) {
		c := rawPeer(t, "127.0.0.4", biancaT)
		if m := connectReply(t, c, `{"msgtype":"CONNECTREQ","initiator":"carol"}`); m.Status != wire.Accepted {
			t.Fatalf("%+v", m)
		}
		bianca.Next(control.EventChatStart)
		io.WriteString(c, "half a mess")
		bianca.ReadText("half a mess")
		c.(*net.TCPConn).SetLinger(0)
		c.Close()
		bianca.Next(control.EventChatEnd)
		bianca.WaitState("logged-in")
		stillServes()
	})
	t.Run("escape sequences", func(t *testing.T) {
		c := rawPeer(t, "127.0.0.4", biancaT)
		connectReply(t, c, `{"msgtype":"CONNECTREQ","initiator":"carol"}`)
		bianca.Next(control.EventChatStart)
		evil := "\x1b]0;pwned\x07\x1b[2J\x1b[H\x00\xff\xfe\r\x08 bell\x07"
		io.WriteString(c, evil)
		got := bianca.ReadText("bell")
		if !strings.Contains(got, "\x1b]0;pwned\x07\x1b[2J") {
			t.Fatalf("escape sequences altered by the daemon: %q", got)
		}
		c.Close()
		bianca.Next(control.EventChatEnd)
		stillServes()
	})
}

// 10 MB in one burst: everything arrives in order, the daemon keeps
// answering other clients while the owner reads slowly, and the relay is
// paced by the reader instead of buffering the flood.
func TestFlood(t *testing.T) {
	srv, _, biancaT, _, bianca := pair(t, transport.Plain)
	srv.Login("carol", "127.0.0.4", nil)
	c := rawPeer(t, "127.0.0.4", biancaT)
	_ = c.SetDeadline(time.Now().Add(60 * time.Second))
	connectReply(t, c, `{"msgtype":"CONNECTREQ","initiator":"carol"}`)
	bianca.Next(control.EventChatStart)
	const total = 10 << 20
	pattern := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	sent := make(chan error, 1)
	go func() {
		for i := 0; i < total/len(pattern); i++ {
			if _, err := c.Write(pattern); err != nil {
				sent <- err
				return
			}
		}
		sent <- c.(*net.TCPConn).CloseWrite()
	}()
	// While bianca's client is not reading, the daemon still answers.
	time.Sleep(200 * time.Millisecond)
	other := attach(t, biancaT.sock)
	start := time.Now()
	if st := other.State(); st != "chatting" {
		t.Fatalf("state %s", st)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("status took %s during a flood", d)
	}
	select {
	case err := <-sent:
		t.Fatalf("the whole flood was accepted while nobody read it (err %v): no backpressure", err)
	default:
	}
	n := 0
	buf := make([]byte, 64<<10)
	for n < total {
		k, err := bianca.Stream().Read(buf)
		for i := 0; i < k; i++ {
			if buf[i] != "0123456789abcdef"[(n+i)%16] {
				t.Fatalf("byte %d out of order", n+i)
			}
		}
		n += k
		if err != nil && n < total {
			t.Fatalf("after %d bytes: %v", n, err)
		}
	}
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	bianca.Next(control.EventChatEnd)
}

func TestOwnerDisconnectsMidChat(t *testing.T) {
	_, _, biancaT, ali, bianca := pair(t, transport.Plain)
	ali.Must(control.Request{Op: control.OpChat, UserID: "bianca"})
	bianca.Next(control.EventChatStart)
	bianca.C.Close()
	ali.Next(control.EventChatEnd)
	ali.WaitState("logged-in")
	watcher := attach(t, biancaT.sock)
	watcher.WaitState("logged-in")
}

func TestSecureImpersonation(t *testing.T) {
	srv, aliT, biancaT, ali, bianca := pair(t, transport.Secure)
	t.Run("callee checks the initiator's key", func(t *testing.T) {
		other, _ := transport.GenerateIdentity()
		srv.SetKey("ali", other.Public) // the directory holds another key for ali
		defer srv.SetKey("ali", nil)
		// ali's own lookup of bianca is fine, so the refusal comes from bianca.
		e := ali.Refused(control.Request{Op: control.OpChat, UserID: "bianca"}, control.CodePeerRefused)
		if e.Detail != reasonNotVerified || e.Peer != "bianca" {
			t.Fatalf("%#v", e)
		}
	})
	t.Run("initiator checks the callee's key", func(t *testing.T) {
		other, _ := transport.GenerateIdentity()
		srv.SetKey("bianca", other.Public)
		defer srv.SetKey("bianca", nil)
		if e := ali.Refused(control.Request{Op: control.OpChat, UserID: "bianca"}, control.CodeWrongKey); e.Peer != "bianca" {
			t.Fatalf("%#v", e)
		}
		ali.WaitState("logged-in")
	})
	t.Run("third terminal claims to be ali", func(t *testing.T) {
		carolT := newTerm(t, srv, transport.Secure, "127.0.0.4", biancaT.opt.PeerPort)
		carol := attach(t, carolT.sock)
		carol.LogIn("carol", "1111")
		// carol speaks TLS with her own key and claims to be ali.
		raw := rawPeer(t, "127.0.0.4", biancaT)
		conn, err := carolT.opt.Transport.Client(t.Context(), raw, transport.PinKey(biancaT.id.Public))
		if err != nil {
			t.Fatal(err)
		}
		m := connectReply(t, conn, `{"msgtype":"CONNECTREQ","initiator":"ali"}`)
		if m.Status != wire.Refused || m.Reason != reasonNotVerified {
			t.Fatalf("%+v", m)
		}
	})
	t.Run("changed key warns", func(t *testing.T) {
		ali.Must(control.Request{Op: control.OpChat, UserID: "bianca"})
		if ev := bianca.Next(control.EventChatStart); ev.OldFingerprint != "" {
			t.Fatalf("first chat warns of a changed key: %+v", ev)
		}
		ali.End()
		bianca.Next(control.EventChatEnd)
		ali.Next(control.EventChatEnd)
		bianca.WaitState("logged-in")
		// ali's terminal gets a new key and logs in again.
		oldKey := aliT.opt.Transport.Identity.Public
		newID, _ := transport.GenerateIdentity()
		aliT.opt.Transport.Identity = newID
		aliT.dir.SetKey(newID.Public)
		srv.Login("ali", "127.0.0.2", newID.Public)
		ali.Must(control.Request{Op: control.OpChat, UserID: "bianca"})
		ev := bianca.Next(control.EventChatStart)
		if ev.OldFingerprint != transport.Fingerprint(oldKey) || ev.PeerFingerprint != transport.Fingerprint(newID.Public) {
			t.Fatalf("chat-start %+v: want ali's old and new key", ev)
		}
		v := bianca.Must(control.Request{Op: control.OpVerify, UserID: "ali"})
		if v.SafetyCode == "" || v.SafetyCode != ev.SafetyCode || v.Status.PeerFingerprint != transport.Fingerprint(newID.Public) {
			t.Fatalf("verify %+v", v)
		}
		if v.OldFingerprint != transport.Fingerprint(oldKey) {
			t.Fatalf("verify during the chat does not warn: %+v", v)
		}
		again := func() control.Reply {
			t.Helper()
			ali.End()
			bianca.Next(control.EventChatEnd)
			ali.Next(control.EventChatEnd)
			bianca.WaitState("logged-in")
			ali.Must(control.Request{Op: control.OpChat, UserID: "bianca"})
			return bianca.Next(control.EventChatStart)
		}
		// The next chat with the new key warns again: it was not accepted.
		if ev := again(); ev.OldFingerprint != transport.Fingerprint(oldKey) {
			t.Fatalf("second chat with the changed key: %+v", ev)
		}
		// bianca compared the code and accepts the key: no more warnings.
		acc := bianca.Must(control.Request{Op: control.OpAcceptKey, UserID: "ali"})
		if acc.OldFingerprint != "" || acc.Warning != "" || acc.Status.PeerFingerprint != transport.Fingerprint(newID.Public) {
			t.Fatalf("accept: %+v", acc)
		}
		if ev := again(); ev.OldFingerprint != "" || ev.Warning != "" {
			t.Fatalf("chat after accepting the key warns: %+v", ev)
		}
	})
}

func TestLoginFailures(t *testing.T) {
	leaktest.Check(t)
	srv := newFakeServer()
	port := freePort(t, "127.0.0.2")
	tm := newTerm(t, srv, transport.Plain, "127.0.0.2", port)
	u := attach(t, tm.sock)
	login := func(digits string) control.Reply {
		u.Must(control.Request{Op: control.OpLogin, UserID: "ali"})
		u.Next(control.EventPasscode)
		meaning := map[rune]control.Key{'A': control.KeyEnter, 'B': control.KeyBackspace, 'C': control.KeyCancel}
		for _, k := range digits {
			key, ok := meaning[k]
			if !ok {
				key = control.Digit(byte(k))
			}
			u.Must(control.Request{Op: control.OpKey, Key: key})
		}
		return u.Next(control.EventLogin)
	}
	if ev := login("9999A"); ev.OK || ev.Code != control.CodeRefused {
		t.Fatalf("%+v", ev)
	}
	if ev := login("12C"); ev.OK || ev.Code != control.CodeCancelled {
		t.Fatalf("%+v", ev)
	}
	srv.SetAuthErr(fmt.Errorf("%w: no answer from the server", directory.ErrUnreachable))
	if ev := login("1234A"); ev.OK || ev.Code != control.CodeServer || !strings.Contains(ev.Error, "no answer") {
		t.Fatalf("%+v", ev)
	}
	srv.SetAuthErr(fmt.Errorf("%w: remove its line from known_hosts", directory.ErrKeyChanged))
	if ev := login("1234A"); ev.OK || ev.Code != control.CodeKeyChanged || !strings.Contains(ev.Error, "known_hosts") {
		t.Fatalf("%+v", ev)
	}
	srv.SetAuthErr(nil)
	u.Refused(control.Request{Op: control.OpKey, Key: "1"}, control.CodeNoEntry)
	u.Refused(control.Request{Op: control.OpKey, Key: "A"}, control.CodeUsage)
	u.Refused(control.Request{Op: control.OpLogin, UserID: ""}, control.CodeBadUserID)
	u.Refused(control.Request{Op: control.OpChat, UserID: "bianca"}, control.CodeNotLoggedIn)
	u.Refused(control.Request{Op: control.OpLogout}, control.CodeNotLoggedIn)
	// Logout during passcode entry abandons it.
	u.Must(control.Request{Op: control.OpLogin, UserID: "ali"})
	u.Next(control.EventPasscode)
	u.Must(control.Request{Op: control.OpLogout})
	if ev := u.Next(control.EventLogin); ev.Code != control.CodeCancelled {
		t.Fatalf("%+v", ev)
	}
	u.LogIn("ali", "1234")
	u.Must(control.Request{Op: control.OpLogout})
	u.Next(control.EventLoggedOut)
	if srv.LoggedIn("ali") {
		t.Fatal("logout not sent to the server")
	}
}

func TestKeyWithoutConsole(t *testing.T) {
	leaktest.Check(t)
	port := freePort(t, "127.0.0.2")
	tm := newTerm(t, newFakeServer(), transport.Plain, "127.0.0.2", port, func(o *Options) {
		o.Keypad = &fakeKeypad{console: false}
	})
	u := attach(t, tm.sock)
	u.Refused(control.Request{Op: control.OpKey, Key: "1"}, control.CodeNoConsole)
}

func TestKeepaliveNoticesForgottenLogin(t *testing.T) {
	leaktest.Check(t)
	srv := newFakeServer()
	port := freePort(t, "127.0.0.2")
	tm := newTerm(t, srv, transport.Plain, "127.0.0.2", port, func(o *Options) { o.Keepalive = 50 * time.Millisecond })
	u := attach(t, tm.sock)
	u.LogIn("ali", "1234")
	time.Sleep(150 * time.Millisecond) // a few keepalives while known
	if u.State() != "logged-in" {
		t.Fatal("keepalive logged us out while the server knows us")
	}
	srv.Forget("ali")
	ev := u.Next(control.EventLoggedOut)
	if ev.Code != control.CodeServerForgot {
		t.Fatalf("%+v", ev)
	}
	u.WaitState("logged-out")
}

// A login requested while logged in first asks the server: "already logged
// in" while it knows us, else logged-out (as the keepalive does) and the
// new login goes ahead.
func TestLoginConfirmsWithServer(t *testing.T) {
	leaktest.Check(t)
	srv := newFakeServer()
	port := freePort(t, "127.0.0.2")
	tm := newTerm(t, srv, transport.Plain, "127.0.0.2", port) // keepalive: 5 min, out of the way
	u := attach(t, tm.sock)
	u.LogIn("ali", "1234")

	// Known: today's answer, for the same user, another one, or none.
	before := srv.Lookups()
	for _, who := range []string{"ali", "bianca", ""} {
		if e := u.Refused(control.Request{Op: control.OpLogin, UserID: who}, control.CodeLoggedIn); e.UserID != "ali" {
			t.Fatalf("%#v: want ali named", e)
		}
	}
	asked := srv.Lookups() - before
	if asked != 3 {
		t.Fatalf("%d lookups for 3 login requests, want 3", asked)
	}
	// Unreachable: stay logged in.
	srv.SetLookupErr(fmt.Errorf("%w: no answer", directory.ErrUnreachable))
	u.Refused(control.Request{Op: control.OpLogin, UserID: "ali"}, control.CodeLoggedIn)
	srv.SetLookupErr(nil)
	if s := u.State(); s != "logged-in" {
		t.Fatalf("state %s after an unanswered check, want logged-in", s)
	}

	// Forgotten, no user ID: only the check; logged out, no new login.
	srv.Forget("ali")
	if r := u.Must(control.Request{Op: control.OpLogin}); r.State != "logged-out" {
		t.Fatalf("%+v", r)
	}
	if ev := u.Next(control.EventLoggedOut); ev.UserID != "ali" || ev.Code != control.CodeServerForgot {
		t.Fatalf("%+v", ev)
	}
	if s := u.State(); s != "logged-out" {
		t.Fatalf("state %s, want logged-out", s)
	}

	// Forgotten, with a user ID: logged out, then the new login goes ahead.
	u.LogIn("ali", "1234")
	srv.Forget("ali")
	u.Seen = nil
	u.LogIn("bianca", "5678")
	var states []string
	loggedOut := false
	for _, ev := range u.Seen {
		switch ev.Event {
		case control.EventState:
			states = append(states, string(ev.State))
		case control.EventLoggedOut:
			loggedOut = ev.UserID == "ali"
		}
	}
	if want := "logged-out,reading-passcode,authenticating,logged-in"; strings.Join(states, ",") != want || !loggedOut {
		t.Fatalf("states %v (want %s), EventLoggedOut for ali: %v", states, want, loggedOut)
	}
	if st := u.Must(control.Request{Op: control.OpStatus}).Status; st.UserID != "bianca" {
		t.Fatalf("%+v", st)
	}
}

func TestStateEventsReachEveryClient(t *testing.T) {
	_, _, _, ali, _ := pair(t, transport.Plain)
	var states []string
	for _, ev := range ali.Seen {
		if ev.Event == control.EventState {
			states = append(states, string(ev.State))
		}
	}
	want := []string{"reading-passcode", "authenticating", "logged-in"}
	if strings.Join(states, ",") != strings.Join(want, ",") {
		t.Fatalf("state events %v, want %v", states, want)
	}
}

func TestShutdownEndsChatPolitely(t *testing.T) {
	leaktest.Check(t)
	srv := newFakeServer()
	port := freePort(t, "127.0.0.2", "127.0.0.3")
	aliT := newTerm(t, srv, transport.Plain, "127.0.0.2", port)
	biancaT := newTerm(t, srv, transport.Plain, "127.0.0.3", port)
	ali, bianca := attach(t, aliT.sock), attach(t, biancaT.sock)
	ali.LogIn("ali", "1234")
	bianca.LogIn("bianca", "5678")
	bianca.Must(control.Request{Op: control.OpWait})
	ali.Must(control.Request{Op: control.OpChat, UserID: "bianca"})
	bianca.Next(control.EventChatStart)
	ctx, cancel := contextWithTimeout(5 * time.Second)
	defer cancel()
	aliT.Shutdown(ctx)
	if ev := bianca.Next(control.EventChatEnd); ev.Error != "" {
		t.Fatalf("chat ended with %q, want a clean end", ev.Error)
	}
	if srv.LoggedIn("ali") {
		t.Fatal("shutdown did not log out")
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

var _ = errors.New

// Control requests keep coming while pi2pid stops (pi2pid closes its
// control socket only after Shutdown): a login that arrives while
// Shutdown waits starts no goroutine it does not wait for (the race
// detector reports a WaitGroup Add racing its Wait), and ends as
// cancelled.
func TestLoginsDuringShutdown(t *testing.T) {
	srv := newFakeServer()
	port := freePort(t, "127.0.0.2")
	tm := newTerm(t, srv, transport.Plain, "127.0.0.2", port)
	clients := []*user{attach(t, tm.sock), attach(t, tm.sock), attach(t, tm.sock)}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, u := range clients {
		go func() {
			for range u.C.Events() { // read steadily, as pi2pictl does
			}
		}()
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := u.Call(control.Request{Op: control.OpLogin, UserID: "ali"}); err != nil && control.CodeOf(err) == "" {
					return // the connection closed
				}
				_, _ = u.Call(control.Request{Op: control.OpKey, Key: control.KeyCancel})
			}
		}()
	}
	time.Sleep(50 * time.Millisecond) // logins under way
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tm.Shutdown(ctx)
	time.Sleep(50 * time.Millisecond) // logins after the wait began
	close(stop)
	wg.Wait()
	if s, _, _ := tm.m.State(); s != terminal.LoggedOut {
		t.Errorf("after shutdown the state is %s, want logged-out", s)
	}
}

// A wait with once (pi2pictl wait) serves one chat: once it has its
// chat, the next caller finds nobody waiting (away), even though the
// connection stays open until pi2pictl exits; a plain wait (the shell)
// stays attached.
func TestWaitOnceServesOneChat(t *testing.T) {
	_, _, biancaT, ali, bianca := pair(t, transport.Plain)
	one := attach(t, biancaT.sock)
	bianca.C.Close() // the plain wait of pair() leaves
	waitFor(t, func() bool { return biancaT.waiter() == nil })
	one.Must(control.Request{Op: control.OpWait, Once: true})
	realCall(t, ali, one)
	if e := ali.Refused(control.Request{Op: control.OpChat, UserID: "bianca"}, control.CodeAway); e == nil {
		t.Fatal("a second call was handed to the wait that had its chat")
	}
	// The shell's wait stays attached from one chat to the next.
	shell := attach(t, biancaT.sock)
	shell.Must(control.Request{Op: control.OpWait})
	realCall(t, ali, shell)
	realCall(t, ali, shell)
}
