package e2e

import (
	"io"
	"strings"
	"testing"
	"time"
)

// vanishLimit is how soon a terminal must notice that its peer vanished.
const vanishLimit = 30 * time.Second

// TestPeerVanishes cuts a terminal's link to the switch in the middle of a
// chat (a power cut, a Wi-Fi drop: no FIN, no RST, nothing) and checks
// that the other side is told within 30 s that the peer stopped answering,
// while idle and while typing, in both modes. The four chats run at once,
// on one network of namespaces, so the test waits for the timeouts once.
func TestPeerVanishes(t *testing.T) {
	needNetns(t)
	needBinaries(t)
	n := newNetwork(t, "srvplain", "srvsecure", "ali", "bianca", "carol", "dave",
		"ali2", "bianca2", "carol2", "dave2")
	type pair struct {
		mode, caller, callee, callerHost, calleeHost string
		typing                                       bool
		chat                                         chatPair
	}
	pairs := []*pair{
		{mode: "plain", caller: "ali", callee: "bianca", callerHost: "ali", calleeHost: "bianca"},
		{mode: "plain", caller: "carol", callee: "dave", callerHost: "carol", calleeHost: "dave", typing: true},
		{mode: "secure", caller: "ali", callee: "bianca", callerHost: "ali2", calleeHost: "bianca2"},
		{mode: "secure", caller: "carol", callee: "dave", callerHost: "carol2", calleeHost: "dave2", typing: true},
	}
	servers := map[string]*server{}
	for _, mode := range modes {
		host := "srv" + mode
		servers[mode] = startServer(t, mode, []string{"ali", "bianca", "carol", "dave"},
			withServerAddr(n.ips[host]+":8082"), inNamespace(n.hosts[host]))
	}
	for _, p := range pairs {
		srv := servers[p.mode]
		caller := startTerminal(t, srv, atIP(n.ips[p.callerHost]), terminalInNamespace(n.hosts[p.callerHost]))
		callee := startTerminal(t, srv, atIP(n.ips[p.calleeHost]), terminalInNamespace(n.hosts[p.calleeHost]))
		caller.login(p.caller)
		callee.login(p.callee)
		p.chat = startChatPair(t, caller, callee, p.callee, true, nil)
		if _, err := p.chat.sender.stdin.Write([]byte("hello before the cut\n")); err != nil {
			t.Fatal(err)
		}
		waitOutput(t, p.chat.receiver, "hello before the cut")
	}
	// The callers' links go down, as a power cut takes them.
	for _, p := range pairs {
		n.ip("-n", n.sw, "link", "set", n.ports[p.callerHost], "down")
	}
	cut := time.Now()
	stopTyping := make(chan struct{})
	defer close(stopTyping)
	for _, p := range pairs {
		if p.typing {
			go keepTyping(p.chat.receiver.stdin, stopTyping)
		}
	}
	for _, p := range pairs {
		name := p.mode + " " + map[bool]string{false: "idle", true: "typing"}[p.typing]
		left := vanishLimit - time.Since(cut)
		if left < 0 {
			left = 0
		}
		p.chat.receiver.finish(t, name+": pi2pictl wait after the peer vanished", left+time.Second)
		took := time.Since(cut)
		out, errOut := p.chat.receiver.stdoutSoFar(), p.chat.receiver.errOut.String()
		t.Logf("%s: told after %s: %s", name, took.Round(100*time.Millisecond), strings.TrimSpace(errOut))
		if took > vanishLimit {
			t.Errorf("%s: the vanished peer was noticed after %s, over %s", name, took, vanishLimit)
		}
		if strings.Count(out, ended) != 1 || !strings.HasSuffix(out, ended+"\n") {
			t.Errorf("%s: the transcript does not end with one %q:\n%s", name, ended, out)
		}
		if !strings.Contains(errOut, "stopped answering") || !strings.Contains(errOut, "may not have arrived") {
			t.Errorf("%s: the user was not told that the peer stopped answering and what may be lost: %q", name, errOut)
		}
	}
}

// keepTyping writes a line to w every half second, as a person asking
// whether the peer is still there, until stop is closed or a write fails.
func keepTyping(w io.Writer, stop <-chan struct{}) {
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
			if _, err := w.Write([]byte("are you there?\n")); err != nil {
				return
			}
		}
	}
}

// waitOutput waits until p's stdout shows text.
func waitOutput(t testing.TB, p *ctlProc, text string) {
	t.Helper()
	deadline := time.Now().Add(stepTimeout)
	for !strings.Contains(p.stdoutSoFar(), text) {
		if time.Now().After(deadline) || p.exited() {
			t.Fatalf("%q did not arrive; stdout %q, stderr %q", text, p.stdoutSoFar(), p.errOut.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
}
