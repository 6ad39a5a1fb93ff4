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
		for _, k := range digits + "A" {
			ali.Must(control.Request{Op: control.OpKey, Key: string(k)})
		}
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

// Issue 11 item 9, through the real binaries: a secure server whose
// connection slots are all taken makes a login fail with "busy", never
// with advice to use plain mode.
func TestFullServerSaysBusyNotPlain(t *testing.T) {
	bin := needServer(t)
	dir := t.TempDir()
	users, state := filepath.Join(dir, "users"), filepath.Join(dir, "state")
	add := exec.Command(bin, "user", "add", "ali", "--users", users, "--state-dir", state)
	add.Stdin = strings.NewReader("1234\n")
	if out, err := add.CombinedOutput(); err != nil {
		t.Fatalf("user add: %v\n%s", err, out)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", testbin.FreePort(t, "127.0.0.1"))
	srv := testbin.Start(t, exec.Command(bin, "serve", "--listen", addr, "--users", users, "--state-dir", state, "--max-conns", "1"))
	srv.WaitLog(t, "listening")
	port := testbin.FreePort(t, "127.0.0.2")
	d := startDaemon(t, addr, "127.0.0.2", port, "secure")
	ali := attach(t, d.socket)

	// Take the only slot with a connection that keeps talking.
	id, err := transport.GenerateIdentity()
	if err != nil {
		t.Fatal(err)
	}
	tc := &transport.Config{Mode: transport.Secure, Identity: id, LocalIP: netip.MustParseAddr("127.0.0.9")}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	filler, err := tc.Dial(ctx, addr, func(ed25519.PublicKey) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	defer filler.Close()
	_ = filler.SetDeadline(time.Now().Add(30 * time.Second))
	if err := wire.Write(filler, wire.Message{Type: wire.LookupReq, UserID: "x", Lookup: "y"}); err != nil {
		t.Fatal(err)
	}
	if _, err := wire.NewDecoder(filler).Next(); err != nil {
		t.Fatal(err)
	}

	login := func() control.Reply {
		ali.Must(control.Request{Op: control.OpLogin, UserID: "ali"})
		ali.Next(control.EventPasscode)
		for _, k := range "1234A" {
			ali.Must(control.Request{Op: control.OpKey, Key: string(k)})
		}
		return ali.Next(control.EventLogin)
	}
	ev := login()
	if ev.OK || !strings.Contains(ev.Error, "busy") || strings.Contains(ev.Error, "plain") {
		t.Fatalf("login event %+v: want a refusal that says the server may be busy, without a word of plain mode", ev)
	}
	// Once the slot is free, the same login goes through.
	filler.Close()
	for deadline := time.Now().Add(30 * time.Second); !ev.OK; {
		if time.Now().After(deadline) {
			t.Fatalf("login still fails after the slot was freed: %+v", ev)
		}
		time.Sleep(50 * time.Millisecond)
		ev = login()
	}
}
