package main

import (
	"strings"
	"testing"

	"github.com/pi2pi/pi2pi/daemon/backend/backendtest"
	"golang.org/x/sys/unix"
)

// TestOneShotOnTerminalEndsWhenPeerEnds: `pi2pictl wait` and `pi2pictl
// chat` on a terminal end as soon as the peer ends the chat, without a key
// being pressed, with the terminal back in its own mode (echo, line
// editing), and leave what was typed meanwhile in the terminal for the
// shell that reads it next.
func TestOneShotOnTerminalEndsWhenPeerEnds(t *testing.T) {
	for _, cmd := range []string{"wait", "chat"} {
		t.Run(cmd, func(t *testing.T) {
			d := backendtest.Start(t, backendtest.Options{})
			bianca := d.Neighbour(t)
			piped(t, d, "1234\n", "login", "ali").exited(t)
			piped(t, bianca, "5678\n", "login", "bianca").exited(t)

			// The one-shot command runs on a terminal, the peer from pipes.
			var r *ptyRun
			var peer *pipedRun
			env := []string{"XDG_STATE_HOME=" + t.TempDir()}
			if cmd == "wait" {
				r = startOnPTY(t, append(env, "PI2PI_SOCKET="+bianca.Socket), "wait")
				bianca.WaitAttached(t)
				peer = piped(t, d, "hello\n", "chat", "bianca")
			} else {
				peer = piped(t, bianca, "", "wait")
				bianca.WaitAttached(t)
				r = startOnPTY(t, append(env, "PI2PI_SOCKET="+d.Socket), "chat", "bianca")
				peer.waitOut(t, "Connection received")
				peer.type_(t, "hello\n")
			}
			at := r.waitScreen(t, 0, "hello")
			// Typed while the chat is on, not yet sent: left for the shell.
			r.type_(t, "ls")
			at = r.waitScreen(t, at, "ls")
			peer.stdin.Close()
			peer.exited(t)
			at = r.waitScreen(t, at, "Connection ended")
			if err := waitExit(t, r); err != nil {
				t.Fatalf("pi2pictl: %v; screen:\n%q", err, r.screen.String())
			}
			tio, err := unix.IoctlGetTermios(int(r.master.Fd()), unix.TCGETS)
			if err != nil {
				t.Fatal(err)
			}
			if tio.Lflag&unix.ECHO == 0 || tio.Lflag&unix.ICANON == 0 {
				t.Fatalf("pi2pictl left the terminal without echo or line mode (lflag %#x)", tio.Lflag)
			}
			// The line typed and never sent is wiped, not entered.
			tail := r.screen.String()[at:]
			if i := strings.LastIndex(tail, "ls"); i >= 0 && (strings.Contains(tail[i:], "\n") || !strings.Contains(tail[i:], "\x1b[2K\r")) {
				t.Fatalf("the unsent line was left on the screen or entered: %q", tail)
			}
		})
	}
}
