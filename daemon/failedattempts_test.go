package main

import (
	"testing"

	"github.com/pi2pi/pi2pi/internal/control"
	"github.com/pi2pi/pi2pi/internal/testbin"
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
