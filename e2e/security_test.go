package e2e

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/pi2pi/pi2pi/internal/control"
	"github.com/pi2pi/pi2pi/internal/transport"
	"github.com/pi2pi/pi2pi/internal/wire"
)

// capturedSystem is a server and two terminals with a recording proxy on
// each hop: terminal→server, and ali→bianca (bianca really listens on 8086,
// the proxy on her 8085).
type capturedSystem struct {
	srv              *server
	ali, bianca      *terminal
	toServer, toPeer *proxy
}

func startCapturedSystem(t *testing.T, mode string) *capturedSystem {
	t.Helper()
	srv := startServer(t, mode, []string{"ali", "bianca"})
	toServer := startProxy(t, "127.0.0.1:0", srv.addr)
	ali := startTerminal(t, srv, viaServer(toServer.addr()))
	bianca := startTerminal(t, srv, viaServer(toServer.addr()), listenPort(8086))
	toPeer := startProxy(t, bianca.ip+":8085", bianca.listenAddr())
	return &capturedSystem{srv: srv, ali: ali, bianca: bianca, toServer: toServer, toPeer: toPeer}
}

// secrets is what must never cross the network in clear in secure mode.
func secrets() map[string][]byte {
	return map[string][]byte{
		"userid ali":          []byte("ali"),
		"userid bianca":       []byte("bianca"),
		"ali's passcode":      []byte(passcodes["ali"]),
		"bianca's passcode":   []byte(passcodes["bianca"]),
		"ali's credential":    []byte(credentialOf("ali")),
		"bianca's credential": []byte(credentialOf("bianca")),
		"chat text":           []byte("Hello, are you there?"),
		"chat reply":          []byte("Yes, here I am!"),
		"msgtype":             []byte("msgtype"),
	}
}

// TestCapture records both hops during login, lookup, connect and a chat.
// In secure mode every byte is a TLS record and none of the secrets shows;
// in plain mode the same recorder sees them all (so it records for real).
func TestCapture(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			cs := startCapturedSystem(t, mode)
			cs.ali.login("ali")
			cs.bianca.login("bianca")
			roundTrip(t, cs.ali, cs.bianca)
			// End the terminals so that every connection is closed and
			// recorded whole.
			cs.ali.p.stop()
			cs.bianca.p.stop()
			for _, px := range []*proxy{cs.toServer, cs.toPeer} {
				if err := px.settle(stepTimeout); err != nil {
					t.Fatal(err)
				}
			}
			hops := map[string][]*recording{
				"terminal→server":   cs.toServer.recordings(),
				"terminal→terminal": cs.toPeer.recordings(),
			}
			var all [][]byte
			for hop, recs := range hops {
				if len(recs) == 0 {
					t.Fatalf("no connection recorded on the %s hop", hop)
				}
				appData := 0
				for i, r := range recs {
					up, down, _ := r.snapshot()
					all = append(all, up, down)
					if mode != "secure" {
						continue
					}
					for dir, stream := range map[string][]byte{"client→server": up, "server→client": down} {
						types, err := tlsRecords(stream)
						if err != nil {
							t.Errorf("%s hop, connection %d, %s: %v", hop, i, dir, err)
						}
						if len(types) > 0 && types[0] != recHandshake {
							t.Errorf("%s hop, connection %d, %s starts with record type 0x%02x, not a handshake", hop, i, dir, types[0])
						}
						appData += bytes.Count(types, []byte{recApplicationData})
					}
				}
				if mode == "secure" && appData == 0 {
					t.Errorf("%s hop: no TLS application data recorded", hop)
				}
			}
			joined := bytes.Join(all, nil)
			for name, secret := range secrets() {
				n := bytes.Count(joined, secret)
				switch {
				case mode == "secure" && n != 0:
					t.Errorf("secure mode: %s appears %d times in the capture", name, n)
				case mode == "plain" && n == 0 && !strings.Contains(name, "passcode"):
					t.Errorf("plain mode: %s does not appear in the capture; is the recorder recording?", name)
				}
			}
		})
	}
}

// TestImpersonationThirdTerminal: carol, logged in as herself, connects to
// bianca and claims to be ali. Bianca's lookup shows ali elsewhere (and,
// in secure mode, with another key): REFUSED, and bianca is never told of
// a chat.
func TestImpersonationThirdTerminal(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			srv := startServer(t, mode, []string{"ali", "bianca", "carol"})
			ali, bianca, carol := startTerminal(t, srv), startTerminal(t, srv), startTerminal(t, srv)
			ali.login("ali")
			bianca.login("bianca")
			carol.login("carol")
			in := attach(t, bianca)
			id := terminalIdentity(t, carol)
			for _, claim := range []string{"ali", "Ali", "ALI"} {
				status, err := claimToBe(mode, carol.ip, bianca.listenAddr(), id, claim)
				if status == wire.Accepted {
					t.Errorf("carol claiming to be %q was ACCEPTED", claim)
				}
				t.Logf("carol as %q: status %q, %v", claim, status, err)
				bianca.waitState("logged-in")
			}
			// Carol as herself is accepted: the refusals above are about
			// the lie, not about carol's connection.
			if status, err := claimToBe(mode, carol.ip, bianca.listenAddr(), id, "carol"); status != wire.Accepted {
				t.Errorf("carol as herself: status %q, %v; want ACCEPTED", status, err)
			}
			ev, ok := in.next(control.EventChatStart, stepTimeout)
			if !ok || ev.Peer != "carol" {
				t.Errorf("bianca's first chat: %+v, want one from carol (and none from \"ali\")", ev)
			}
		})
	}
}

// TestImpersonationWrongKey: from ali's own address, someone with another
// key than the one the directory holds for ali claims to be ali: refused.
// With ali's real key (the control) the same code is accepted.
func TestImpersonationWrongKey(t *testing.T) {
	t.Parallel()
	srv := startServer(t, "secure", []string{"ali", "bianca"})
	ali, bianca := startTerminal(t, srv), startTerminal(t, srv)
	ali.login("ali")
	bianca.login("bianca")
	in := attach(t, bianca)
	stranger, err := transport.GenerateIdentity()
	if err != nil {
		t.Fatal(err)
	}
	if status, err := claimToBe("secure", ali.ip, bianca.listenAddr(), stranger, "ali"); status == wire.Accepted {
		t.Fatalf("a stranger's key from ali's address was ACCEPTED as ali")
	} else {
		t.Logf("stranger as ali: status %q, %v", status, err)
	}
	if ev, ok := in.next(control.EventChatStart, 200*time.Millisecond); ok {
		t.Fatalf("bianca was handed a chat: %+v", ev)
	}
	// The control: ali's real key from ali's address is accepted.
	if status, err := claimToBe("secure", ali.ip, bianca.listenAddr(), terminalIdentity(t, ali), "ali"); status != wire.Accepted {
		t.Fatalf("ali's real key from ali's address: status %q, %v; want ACCEPTED", status, err)
	}
	if ev, ok := in.next(control.EventChatStart, stepTimeout); !ok || ev.Peer != "ali" {
		t.Fatalf("bianca's chat: %+v, want one from ali", ev)
	}
}

// TestMITMServerHop: a man in the middle with its own keys between ali and
// the server is refused, whether ali pinned the server by fingerprint or on
// first use; without him the same terminal logs in.
func TestMITMServerHop(t *testing.T) {
	t.Parallel()
	srv := startServer(t, "secure", []string{"ali", "bianca"})
	px := startProxy(t, "127.0.0.1:0", srv.addr)

	// Pinned on first use, through the proxy while it is honest.
	tofu := startTerminal(t, srv, viaServer(px.addr()))
	tofu.login("ali")
	tofu.logout()
	px.setMITM(true)
	px.forget() // what the honest relay saw
	out, code := tofu.tryLogin("ali", passcodes["ali"])
	if code == 0 || strings.Contains(out, "Logged in.") {
		t.Fatalf("login through a man in the middle (TOFU pin) succeeded:\n%s", out)
	}
	if !strings.Contains(strings.ToLower(out), "key") {
		t.Errorf("the refusal does not say the server key changed:\n%s", out)
	}

	// Pinned by fingerprint, never having seen the real server.
	pinned := startTerminal(t, srv, viaServer(px.addr()), withDaemonArgs("--server-fingerprint", srv.fingerprint()))
	out, code = pinned.tryLogin("bianca", passcodes["bianca"])
	if code == 0 || strings.Contains(out, "Logged in.") {
		t.Fatalf("login through a man in the middle (fingerprint pin) succeeded:\n%s", out)
	}
	if err := px.settle(stepTimeout); err != nil {
		t.Fatal(err)
	}
	for _, r := range px.recordings() {
		up, down, _ := r.snapshot()
		if len(up)+len(down) > 0 {
			t.Errorf("the man in the middle read %d bytes of clear text: %.200q", len(up)+len(down), up)
		}
	}
	// No one got logged in through him.
	if rep := directLookup(t, srv, tofu, "bianca"); rep.Status == wire.Success {
		t.Errorf("bianca is in the directory after a login through the man in the middle")
	}

	// Honest again: both log in.
	px.setMITM(false)
	tofu.login("ali")
	pinned.login("bianca")
}

// TestMITMPeerHop: a man in the middle with its own keys on bianca's port
// is refused by ali, who expects the key the directory gave for bianca.
func TestMITMPeerHop(t *testing.T) {
	t.Parallel()
	srv := startServer(t, "secure", []string{"ali", "bianca"})
	ali := startTerminal(t, srv)
	bianca := startTerminal(t, srv, listenPort(8086))
	px := startProxy(t, bianca.ip+":8085", bianca.listenAddr())
	ali.login("ali")
	bianca.login("bianca")

	in := bianca.answer()
	px.setMITM(true)
	if out := ali.refusedCall("bianca"); strings.Contains(out, established) {
		t.Fatalf("ali chatted through a man in the middle:\n%s", out)
	}
	if strings.Contains(in.p.Output(), "Connection received") {
		t.Errorf("bianca took a chat through a man in the middle:\n%s", in.p.Output())
	}
	if err := px.settle(stepTimeout); err != nil {
		t.Fatal(err)
	}
	for _, r := range px.recordings() {
		if up, _, _ := r.snapshot(); len(up) > 0 {
			t.Errorf("the man in the middle read clear text from ali: %.200q", up)
		}
	}
	in.p.stop()
	px.setMITM(false)
	roundTrip(t, ali, bianca)
}

// TestServerKeyChanged: the server comes back with a new key; the terminal
// that pinned the old one refuses it and says what to do.
func TestServerKeyChanged(t *testing.T) {
	t.Parallel()
	srv := startServer(t, "secure", []string{"ali"})
	ali := startTerminal(t, srv)
	ali.login("ali")
	ali.logout()
	before := srv.fingerprint()
	srv.stop()
	if err := os.Remove(srv.stateDir + "/identity.key"); err != nil {
		t.Fatal(err)
	}
	srv.start()
	if after := srv.fingerprint(); after == before {
		t.Fatalf("the server kept its key %s", after)
	}
	out, code := ali.tryLogin("ali", passcodes["ali"])
	if code == 0 || strings.Contains(out, "Logged in.") {
		t.Fatalf("login to a server with a changed key succeeded:\n%s", out)
	}
	if !strings.Contains(strings.ToLower(out), "changed") && !strings.Contains(strings.ToLower(out), "key") {
		t.Errorf("the refusal does not say the key changed:\n%s", out)
	}
}

// TestReplay: ali's recorded login and chat connections, replayed byte for
// byte from ali's address, log no one in and start no chat.
func TestReplay(t *testing.T) {
	t.Parallel()
	cs := startCapturedSystem(t, "secure")
	cs.bianca.login("bianca")
	cs.toServer.forget()
	cs.ali.login("ali")
	// A terminal may keep its connection to the server open: the
	// recording so far holds the login all the same.
	logins := cs.toServer.recordings()
	roundTrip(t, cs.ali, cs.bianca)
	if err := cs.toPeer.settle(stepTimeout); err != nil {
		t.Fatal(err)
	}
	chats := cs.toPeer.recordings()

	if rep := directLookup(t, cs.srv, cs.bianca, "ali"); rep.Status != wire.Success {
		t.Fatalf("ali is not in the directory after logging in: %+v", rep)
	}
	cs.ali.logout()
	if rep := directLookup(t, cs.srv, cs.bianca, "ali"); rep.Status == wire.Success {
		t.Fatalf("ali is still in the directory after logging out: %+v", rep)
	}

	replay := func(to string, r *recording) {
		up, _, _ := r.snapshot()
		ip := strings.Split(r.clientAddr, ":")[0]
		c, err := dialRaw(ip, to)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(3 * time.Second))
		c.Write(up)
		var sink [4096]byte
		for {
			if _, err := c.Read(sink[:]); err != nil {
				return
			}
		}
	}
	for _, r := range logins {
		replay(cs.srv.addr, r)
	}
	if rep := directLookup(t, cs.srv, cs.bianca, "ali"); rep.Status == wire.Success {
		t.Errorf("a replayed login put ali back in the directory: %+v", rep)
	}

	in := attach(t, cs.bianca)
	for _, r := range chats {
		replay(cs.bianca.listenAddr(), r)
	}
	if ev, ok := in.next(control.EventChatStart, 300*time.Millisecond); ok {
		t.Errorf("a replayed chat connection reached bianca: %+v", ev)
	}
}

// terminalIdentity reads a terminal's key from its state directory, as an
// attacker who took over that terminal could.
func terminalIdentity(t testing.TB, tm *terminal) *transport.Identity {
	t.Helper()
	if tm.mode != "secure" {
		return nil
	}
	id, err := transport.LoadOrCreateIdentity(tm.identityFile())
	if err != nil {
		t.Fatal(err)
	}
	return id
}
