package e2e

import (
	"strings"
	"testing"
	"time"
)

// TestCallerRouteGone: the caller loses its way to the callee (a
// route gone on its side, as a Wi-Fi drop may look) while the callee
// types. The callee is told within 30 s that the peer stopped answering,
// and so is the caller, its route still gone (the callee's packets still
// reach it, so its keepalive stays quiet: it took 48 s). The caller must
// not get a normal end, as if all had arrived: the
// callee resets the connection when it gives up (a polite close left its
// text and its end in the kernel, sent again until the caller's route came
// back), so the caller is told the chat broke (or that its peer stopped
// answering), with exit code 1. The caller may have shown some of the
// callee's text: packets still reached it, it could not answer them.
func TestCallerRouteGone(t *testing.T) {
	needNetns(t)
	needBinaries(t)
	n := newNetwork(t, "srvplain", "srvsecure", "ali", "bianca", "ali2", "bianca2")
	type pair struct {
		mode, callerHost, calleeHost string
		chat                         chatPair
	}
	pairs := []*pair{
		{mode: "plain", callerHost: "ali", calleeHost: "bianca"},
		{mode: "secure", callerHost: "ali2", calleeHost: "bianca2"},
	}
	for _, p := range pairs {
		host := "srv" + p.mode
		srv := startServer(t, p.mode, []string{"ali", "bianca"},
			withServerAddr(n.ips[host]+":8082"), inNamespace(n.hosts[host]))
		caller := startTerminal(t, srv, atIP(n.ips[p.callerHost]), terminalInNamespace(n.hosts[p.callerHost]))
		callee := startTerminal(t, srv, atIP(n.ips[p.calleeHost]), terminalInNamespace(n.hosts[p.calleeHost]))
		caller.login("ali")
		callee.login("bianca")
		p.chat = startChatPair(t, caller, callee, "bianca", true, nil)
		if _, err := p.chat.receiver.stdin.Write([]byte("hello before the cut\n")); err != nil {
			t.Fatal(err)
		}
		waitOutput(t, p.chat.sender, "hello before the cut")
	}
	for _, p := range pairs {
		n.ip("-n", n.hosts[p.callerHost], "route", "add", "blackhole", n.ips[p.calleeHost]+"/32")
	}
	cut := time.Now()
	stopTyping := make(chan struct{})
	for _, p := range pairs {
		go keepTyping(p.chat.receiver.stdin, stopTyping)
	}
	for _, p := range pairs {
		left := max(vanishLimit-time.Since(cut), 0)
		p.chat.receiver.finish(t, p.mode+": the callee's pi2pictl wait after the caller vanished", left+time.Second)
		if errOut := p.chat.receiver.errOut.String(); !strings.Contains(errOut, "stopped answering") {
			t.Errorf("%s: the callee was not told that the caller stopped answering: %q", p.mode, errOut)
		}
	}
	close(stopTyping)
	t.Logf("both callees told after %s", time.Since(cut).Round(100*time.Millisecond))
	for _, p := range pairs {
		left := max(vanishLimit-time.Since(cut), 0)
		code := p.chat.sender.finish(t, p.mode+": the caller's pi2pictl chat, its route still gone", left+time.Second)
		out, errOut := p.chat.sender.stdoutSoFar(), p.chat.sender.errOut.String()
		t.Logf("%s: the caller ended with %d: %s", p.mode, code, strings.TrimSpace(errOut))
		if strings.Count(out, ended) != 1 {
			t.Errorf("%s: the caller's transcript does not hold one %q:\n%s", p.mode, ended, out)
		}
		if code != 1 || !strings.Contains(errOut, "broke") && !strings.Contains(errOut, "stopped answering") {
			t.Errorf("%s: the caller ended with code %d and %q, want 1 and a broken chat", p.mode, code, errOut)
		}
	}
	for _, p := range pairs {
		n.ip("-n", n.hosts[p.callerHost], "route", "del", "blackhole", n.ips[p.calleeHost]+"/32")
	}
}
