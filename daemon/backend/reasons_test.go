package backend

import (
	"net"
	"strconv"
	"strings"
	"testing"

	"github.com/pi2pi/pi2pi/daemon/internal/leaktest"
	"github.com/pi2pi/pi2pi/internal/control"
	"github.com/pi2pi/pi2pi/internal/transport"
	"github.com/pi2pi/pi2pi/internal/wire"
)

// TestUnknownRefusalReasonIsNotPassedOn: a hostile callee answers REFUSED
// with a reason full of escape sequences. pi2pid passes on the reasons it
// knows and a fixed wording for any other, so the callee's text never
// reaches the caller.
func TestUnknownRefusalReasonIsNotPassedOn(t *testing.T) {
	leaktest.Check(t)
	srv := newFakeServer()
	port := freePort(t, "127.0.0.2", "127.0.0.3")
	aliT := newTerm(t, srv, transport.Plain, "127.0.0.2", port)
	ali := attach(t, aliT.sock)
	ali.LogIn("ali", "1234")
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.3", strconv.Itoa(port)))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	srv.Login("bianca", "127.0.0.3", nil)
	hostile := "\x1b]52;c;cm0gLXJmIH4=\x07\x1b]0;pwned\x07\x1b[2J\x1b[Hbusy"
	for _, tc := range []struct {
		reason string
		code   control.Code
		detail string
	}{
		{hostile, control.CodeOddReason, ""},
		{"not logged in", control.CodeNotFound, ""},
		{reasonNotVerified, control.CodePeerRefused, reasonNotVerified},
	} {
		go func() {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
			if _, err := wire.NewDecoder(c).Decode(); err == nil {
				_ = wire.Write(c, wire.Message{Type: wire.ConnectReply, Status: wire.Refused, Reason: tc.reason})
			}
		}()
		e := ali.Refused(control.Request{Op: control.OpChat, UserID: "bianca"}, tc.code)
		if strings.ContainsAny(e.Detail, "\x1b\x07") || strings.Contains(e.Detail, "pwned") || strings.Contains(e.Detail, "52;") {
			t.Fatalf("the callee's reason reached the caller: %#v", e)
		}
		if e.Detail != tc.detail || e.Peer != "bianca" {
			t.Fatalf("reason %q: refusal %#v, want detail %q", tc.reason, e, tc.detail)
		}
	}
}
