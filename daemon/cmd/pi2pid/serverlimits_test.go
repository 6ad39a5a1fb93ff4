package main

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"net/netip"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pi2pi/pi2pi/internal/control"
	"github.com/pi2pi/pi2pi/internal/control/controltest"
	"github.com/pi2pi/pi2pi/internal/testbin"
	"github.com/pi2pi/pi2pi/internal/transport"
	"github.com/pi2pi/pi2pi/internal/wire"
)

// Issue 11 item 4, through the real binaries: the server counts a wrong
// passcode, and the next successful login event carries the count to
// pi2pictl; the login after that carries none.
func TestLoginEventCountsFailedAttempts(t *testing.T) {
	srv := startServer(t, "secure", map[string]string{"ali": "1234"})
	port := testbin.FreePort(t, "127.0.0.2")
	d := startDaemon(t, srv.addr, "127.0.0.2", port, "secure")
	ali := attach(t, d.socket)
	login := func(digits string) control.Reply {
		ali.Must(control.Request{Op: control.OpLogin, UserID: "ali"})
		ali.Next(control.EventPasscode)
		for i := range len(digits) {
			ali.Must(control.Request{Op: control.OpKey, Key: control.Digit(digits[i])})
		}
		ali.Must(control.Request{Op: control.OpKey, Key: control.KeyEnter})
		return ali.Next(control.EventLogin)
	}
	if ev := login("9999"); ev.OK {
		t.Fatalf("wrong passcode granted: %+v", ev)
	}
	if ev := login("1234"); !ev.OK || ev.FailedAttempts != 1 {
		t.Fatalf("login event %+v, want OK with 1 failed attempt", ev)
	}
	ali.Must(control.Request{Op: control.OpLogout})
	if ev := login("1234"); !ev.OK || ev.FailedAttempts != 0 {
		t.Fatalf("second login event %+v, want OK with no failed attempts", ev)
	}
}

// startServerWith starts a secure pi2pi-server with ali enrolled and extra
// flags.
func startServerWith(t *testing.T, extra ...string) string {
	bin := needServer(t)
	dir := t.TempDir()
	users, state := filepath.Join(dir, "users"), filepath.Join(dir, "state")
	add := exec.Command(bin, "user", "add", "ali", "--users", users, "--state-dir", state)
	add.Stdin = strings.NewReader("1234\n")
	if out, err := add.CombinedOutput(); err != nil {
		t.Fatalf("user add: %v\n%s", err, out)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", testbin.FreePort(t, "127.0.0.1"))
	srv := testbin.Start(t, exec.Command(bin, append([]string{"serve", "--listen", addr, "--users", users, "--state-dir", state}, extra...)...))
	srv.WaitLog(t, "listening")
	return addr
}

// holdSlot opens a secure connection to the server from ip and makes one
// request on it, as a client that keeps its connection would.
func holdSlot(t *testing.T, addr, ip string) *transport.Conn {
	id, err := transport.GenerateIdentity()
	if err != nil {
		t.Fatal(err)
	}
	tc := &transport.Config{Mode: transport.Secure, Identity: id, LocalIP: netip.MustParseAddr(ip)}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := tc.Dial(ctx, addr, func(ed25519.PublicKey) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	if err := wire.Write(c, wire.Message{Type: wire.LookupReq, UserID: "x", Lookup: "y"}); err != nil {
		t.Fatal(err)
	}
	if _, err := wire.NewDecoder(c).Next(); err != nil {
		t.Fatal(err)
	}
	return c
}

func loginAli(t *testing.T, ali *controltest.User) control.Reply {
	ali.Must(control.Request{Op: control.OpLogin, UserID: "ali"})
	ali.Next(control.EventPasscode)
	for _, d := range []byte("1234") {
		ali.Must(control.Request{Op: control.OpKey, Key: control.Digit(d)})
	}
	ali.Must(control.Request{Op: control.OpKey, Key: control.KeyEnter})
	return ali.Next(control.EventLogin)
}

// Issue 11 item 9, through the real binaries: a client that keeps the
// only slot of a server by talking now and then does not keep a login
// out; the server closes that waiting connection to make room.
func TestFullServerMakesRoomForALogin(t *testing.T) {
	addr := startServerWith(t, "--max-conns", "1")
	port := testbin.FreePort(t, "127.0.0.2")
	d := startDaemon(t, addr, "127.0.0.2", port, "secure")
	ali := attach(t, d.socket)
	filler := holdSlot(t, addr, "127.0.0.9")
	if ev := loginAli(t, ali); !ev.OK {
		t.Fatalf("login event %+v: a talking client kept the login out", ev)
	}
	if _, err := wire.NewDecoder(filler).Next(); err == nil {
		t.Fatal("the connection that waited longest was not closed")
	}
}

// Issue 11 item 9: when the server refuses the connection (here the
// terminal's own address is at its per-address cap), the login fails with
// CodeServerBusy, never CodeNotTLS (advice to use plain mode).
func TestRefusedConnectionSaysBusyNotPlain(t *testing.T) {
	addr := startServerWith(t, "--max-conns-per-ip", "1")
	port := testbin.FreePort(t, "127.0.0.2")
	d := startDaemon(t, addr, "127.0.0.2", port, "secure")
	ali := attach(t, d.socket)
	filler := holdSlot(t, addr, "127.0.0.2")
	ev := loginAli(t, ali)
	if ev.OK || ev.Code != control.CodeServerBusy {
		t.Fatalf("login event %+v: want a refusal that says the server may be busy, without a word of plain mode", ev)
	}
	// Once the slot is free, the same login goes through.
	filler.Close()
	for deadline := time.Now().Add(30 * time.Second); !ev.OK; {
		if time.Now().After(deadline) {
			t.Fatalf("login still fails after the slot was freed: %+v", ev)
		}
		time.Sleep(50 * time.Millisecond)
		ev = loginAli(t, ali)
	}
}
