package e2e

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The delivery guarantee (docs/protocol.md): every byte the sender's
// pi2pictl accepted before the chat ends reaches the peer's pi2pictl, in
// order, exactly once, whichever way the chat ends; each side prints
// "Connection ended" once, after everything that arrived.

// endings are the ways a chat ends in TestDeliveryRandom.
var endings = []string{"eof", "interrupt", "peer", "logout", "sigterm"}

// deliveryRig is a server and two logged-in terminals, kept for many chats.
type deliveryRig struct {
	t        testing.TB
	mode     string
	ali, bia *terminal
}

func newDeliveryRig(t testing.TB, mode string) *deliveryRig {
	srv := startServer(t, mode, []string{"ali", "bianca"})
	r := &deliveryRig{t: t, mode: mode, ali: startTerminal(t, srv), bia: startTerminal(t, srv)}
	r.ali.login("ali")
	r.bia.login("bianca")
	return r
}

// banner is what pi2pictl prints when a chat starts: the seed's line and,
// in secure mode, the safety code (whatever it is).
func (r *deliveryRig) cutBanner(t testing.TB, who, out, first string) string {
	t.Helper()
	if !strings.HasPrefix(out, first+"\n") {
		t.Fatalf("%s's transcript does not begin with %q:\n%.300q", who, first, out)
	}
	out = strings.TrimPrefix(out, first+"\n")
	if r.mode == "secure" {
		i := strings.IndexByte(out, '\n')
		if !strings.HasPrefix(out, "Safety code: ") || i < 0 {
			t.Fatalf("%s's transcript has no safety code:\n%.300q", who, out)
		}
		out = out[i+1:]
	}
	return out
}

// TestDeliveryRandom sends random text (lines of 0 to 4 KiB of UTF-8, with
// and without a final newline) at a random pace through the real programs
// and ends each chat in a random way; the receiver's output must be the
// text, byte for byte. PI2PI_DELIVERY_ITERATIONS sets the chats per mode,
// PI2PI_DELIVERY_SEED replays a run.
func TestDeliveryRandom(t *testing.T) {
	runDeliveryRandom(t, envInt("PI2PI_DELIVERY_ITERATIONS", 100))
}

// runDeliveryRandom runs iterations random chats in each mode.
func runDeliveryRandom(t *testing.T, iterations int) {
	for _, mode := range []string{"plain", "secure"} {
		t.Run(mode, func(t *testing.T) {
			seed := seedFor(t)
			rng := rand.New(rand.NewPCG(seed, 0))
			r := newDeliveryRig(t, mode)
			for i := range iterations {
				s := rng.Uint64()
				ending := endings[rng.IntN(len(endings))]
				if !t.Run(fmt.Sprintf("%d-%s", i, ending), func(t *testing.T) {
					r.once(t, rand.New(rand.NewPCG(s, 1)), ending)
				}) {
					t.Fatalf("chat %d (seed %d, ending %s) failed; replay with PI2PI_DELIVERY_SEED=%d", i, s, ending, seed)
				}
			}
		})
	}
}

// once is one chat from ali to bianca, ended by ending.
func (r *deliveryRig) once(t *testing.T, rng *rand.Rand, ending string) {
	var text strings.Builder
	lines := rng.IntN(40)
	// Lines of up to 4 KiB, and now and then a longer one (up to 20 KiB):
	// pi2pictl must not cut a line the peer did not cut.
	lineMax := func() int {
		if rng.IntN(8) == 0 {
			return 20000
		}
		return 4096
	}
	for range lines {
		text.WriteString(randomLine(rng, lineMax()))
		text.WriteByte('\n')
	}
	if rng.IntN(2) == 0 {
		text.WriteString(randomLine(rng, lineMax())) // no final newline
	}
	want := text.String()
	// bianca's stdin: kept open, or /dev/null (then she only receives).
	c := startChatPair(t, r.ali, r.bia, "bianca", rng.IntN(2) == 0, nil)
	// Type it in bursts and pauses, a line (or a burst of them) per write.
	rest := want
	for rest != "" {
		n := 1 + rng.IntN(8)
		cut := 0
		for k := 0; k < n && cut < len(rest); k++ {
			j := strings.IndexByte(rest[cut:], '\n')
			if j < 0 {
				cut = len(rest)
				break
			}
			cut += j + 1
		}
		if rng.IntN(4) == 0 && cut > 1 {
			cut = 1 + rng.IntN(cut-1) // mid-line, even mid-character
		}
		if _, err := c.sender.stdin.Write([]byte(rest[:cut])); err != nil {
			t.Fatalf("writing to pi2pictl chat: %v; stderr: %s", err, c.sender.errOut.String())
		}
		rest = rest[cut:]
		switch {
		case rng.IntN(40) == 0:
			// Longer than pi2pictl's wait for the rest of a line shown on
			// a terminal: a script must still get the line whole.
			time.Sleep(350 * time.Millisecond)
		case rng.IntN(3) == 0:
			time.Sleep(time.Duration(rng.IntN(30)) * time.Millisecond)
		}
	}
	r.end(t, c, ending)
	sendCode := c.sender.finish(t, "pi2pictl chat", 60*time.Second)
	recvCode := c.receiver.finish(t, "pi2pictl wait", 60*time.Second)
	got := r.cutBanner(t, "bianca", c.receiver.stdoutSoFar(), received("ali"))
	if exp := shown(want) + ended + "\n"; got != exp {
		t.Fatalf("bianca received %d bytes, want %d (sent %d lines; ending %s)\nfirst difference at byte %d\ngot  %.200q\nwant %.200q\nstderr: %s",
			len(got), len(exp), lines, ending, firstDiff(got, exp), tailFrom(got, firstDiff(got, exp)), tailFrom(exp, firstDiff(got, exp)), c.receiver.errOut.String())
	}
	if got := r.cutBanner(t, "ali", c.sender.stdoutSoFar(), established); got != ended+"\n" {
		t.Fatalf("ali's transcript after the banner is %q, want one %q", got, ended)
	}
	if recvCode != 0 {
		t.Errorf("pi2pictl wait exited %d: %s", recvCode, c.receiver.errOut.String())
	}
	if ending != "logout" && ending != "sigterm" && sendCode != 0 {
		t.Errorf("pi2pictl chat exited %d: %s", sendCode, c.sender.errOut.String())
	}
	r.restore(t, ending)
}

// end ends the chat once the sender has read all its input.
func (r *deliveryRig) end(t *testing.T, c chatPair, ending string) {
	if ending == "eof" {
		c.sender.stdin.Close()
		return
	}
	c.sender.waitRead(t)
	switch ending {
	case "interrupt": // CTRL-C after the last Enter
		c.sender.signal(syscall.SIGINT)
	case "peer":
		// bianca ends the chat she sees: her CTRL-C comes after her
		// pi2pictl showed the chat's start, as a person's would.
		for deadline := time.Now().Add(stepTimeout); !strings.Contains(c.receiver.stdoutSoFar(), received("ali")); {
			if time.Now().After(deadline) {
				t.Fatalf("bianca's pi2pictl never showed the chat: %q", c.receiver.stdoutSoFar())
			}
			time.Sleep(2 * time.Millisecond)
		}
		c.receiver.signal(syscall.SIGINT)
	case "logout":
		if out, errOut, code := r.ali.ctl("", "logout"); code != 0 {
			t.Fatalf("logout failed (exit %d): %s%s", code, out, errOut)
		}
	case "sigterm":
		_ = r.ali.p.cmd.Process.Signal(syscall.SIGTERM)
	}
}

// restore brings ali's terminal back for the next chat.
func (r *deliveryRig) restore(t *testing.T, ending string) {
	switch ending {
	case "logout":
		r.ali.login("ali")
	case "sigterm":
		if _, err := r.ali.p.wait(stepTimeout); err != nil {
			t.Fatalf("pi2pid did not stop on SIGTERM: %v", err)
		}
		r.ali.start()
		r.ali.login("ali")
	}
	r.bia.waitState("logged-in")
	r.ali.waitState("logged-in")
}

func firstDiff(a, b string) int {
	n := min(len(a), len(b))
	for i := range n {
		if a[i] != b[i] {
			return i
		}
	}
	return n
}

func tailFrom(s string, i int) string {
	if i > len(s) {
		return ""
	}
	return s[i:]
}

// TestDeliveryTenMegabytes pipes a 10 MB file through `pi2pictl chat`
// into `pi2pictl wait > file` and compares the files, in both modes.
func TestDeliveryTenMegabytes(t *testing.T) {
	for _, mode := range []string{"plain", "secure"} {
		t.Run(mode, func(t *testing.T) {
			seed := seedFor(t)
			rng := rand.New(rand.NewPCG(seed, 2))
			var b strings.Builder
			for b.Len() < 10<<20 {
				b.WriteString(randomLine(rng, 4096))
				b.WriteByte('\n')
			}
			want := b.String()
			r := newDeliveryRig(t, mode)
			dir := t.TempDir()
			outPath := filepath.Join(dir, "received")
			out, err := os.Create(outPath)
			if err != nil {
				t.Fatal(err)
			}
			defer out.Close()
			c := startChatPair(t, r.ali, r.bia, "bianca", false, out)
			go func() {
				_, _ = c.sender.stdin.Write([]byte(want))
				c.sender.stdin.Close()
			}()
			if code := c.sender.finish(t, "pi2pictl chat < 10 MB", 5*time.Minute); code != 0 {
				t.Fatalf("pi2pictl chat exited %d: %s", code, c.sender.errOut.String())
			}
			if code := c.receiver.finish(t, "pi2pictl wait > file", time.Minute); code != 0 {
				t.Fatalf("pi2pictl wait exited %d: %s", code, c.receiver.errOut.String())
			}
			gotAll, err := os.ReadFile(outPath)
			if err != nil {
				t.Fatal(err)
			}
			got := r.cutBanner(t, "bianca", string(gotAll), received("ali"))
			if !strings.HasSuffix(got, ended+"\n") {
				t.Fatalf("the received file does not end with %q", ended)
			}
			got = strings.TrimSuffix(got, ended+"\n")
			if !bytes.Equal([]byte(got), []byte(want)) {
				i := firstDiff(got, want)
				t.Fatalf("received %d bytes, sent %d; first difference at byte %d", len(got), len(want), i)
			}
		})
	}
}
