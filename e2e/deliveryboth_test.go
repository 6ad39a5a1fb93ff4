package e2e

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// TestDeliveryBothEnd is the README's scripting example, as an outside
// tester ran it: `printf … | pi2pictl wait` on bianca's terminal and
// `printf … | pi2pictl chat bianca` on ali's, so that both sides' stdin
// ends at about the same moment, right after a few lines. Each side must
// show all of the other's text, byte for byte, then "Connection ended"
// once, and exit 0; a third caller now and then must not disturb it.
// PI2PI_BOTHEND_ITERATIONS sets the chats per mode (30),
// PI2PI_DELIVERY_SEED replays a run.
func TestDeliveryBothEnd(t *testing.T) {
	iterations := envInt("PI2PI_BOTHEND_ITERATIONS", 30)
	for _, mode := range []string{"plain", "secure"} {
		t.Run(mode, func(t *testing.T) {
			seed := seedFor(t)
			rng := rand.New(rand.NewPCG(seed, 3))
			srv := startServer(t, mode, []string{"ali", "bianca", "carol"})
			r := &deliveryRig{t: t, mode: mode, ali: startTerminal(t, srv), bia: startTerminal(t, srv)}
			carol := startTerminal(t, srv)
			r.ali.login("ali")
			r.bia.login("bianca")
			carol.login("carol")
			var failed []int
			for i := range iterations {
				s := rng.Uint64()
				// Now and then carol calls bianca too, as the chat goes
				// on: she must be refused, and the chat must not notice.
				var third *terminal
				if rng.IntN(3) == 0 {
					third = carol
				}
				if !t.Run(fmt.Sprint(i), func(t *testing.T) {
					r.bothEnd(t, rand.New(rand.NewPCG(s, 4)), third)
				}) {
					failed = append(failed, i)
				}
			}
			if len(failed) > 0 {
				t.Errorf("%d of %d chats failed (%v); replay with PI2PI_DELIVERY_SEED=%d", len(failed), iterations, failed, seed)
			}
		})
	}
}

// someLines returns 1 to 5 random lines, each ending in a newline.
func someLines(rng *rand.Rand) string {
	var b strings.Builder
	for range 1 + rng.IntN(5) {
		b.WriteString(randomLine(rng, 200))
		b.WriteByte('\n')
	}
	return b.String()
}

// bothEnd is one chat in which both sides pipe a few lines and end;
// with third, a third user calls bianca once the chat has started.
func (r *deliveryRig) bothEnd(t *testing.T, rng *rand.Rand, third *terminal) {
	aliText, biaText := someLines(rng), someLines(rng)
	// bianca: her lines and the end of her stdin are there before the
	// chat starts (`printf … | pi2pictl wait`).
	recv := startCtl(t, r.bia, true, nil, "wait")
	if _, err := recv.stdin.Write([]byte(biaText)); err != nil {
		t.Fatal(err)
	}
	recv.stdin.Close()
	recv.stdin = nil
	// ali: the same, a moment later; his pi2pictl is started again while
	// bianca's wait is not attached yet ("away").
	time.Sleep(time.Duration(rng.IntN(20)) * time.Millisecond)
	deadline := time.Now().Add(stepTimeout)
	pause := 20 * time.Millisecond
	var send *ctlProc
	var intruder *ctlProc
	for {
		send = startCtl(t, r.ali, true, nil, "chat", "bianca")
		if _, err := send.stdin.Write([]byte(aliText)); err != nil {
			t.Fatal(err)
		}
		send.stdin.Close()
		send.stdin = nil
		if third != nil {
			for !send.exited() && !strings.Contains(send.stdoutSoFar(), established) {
				time.Sleep(time.Millisecond)
			}
			if !send.exited() || strings.Contains(send.stdoutSoFar(), established) {
				intruder = startCtl(t, third, false, nil, "chat", "bianca")
			}
		}
		code := send.finish(t, "pi2pictl chat", 60*time.Second)
		if strings.Contains(send.stdoutSoFar(), established) {
			if code != 0 {
				t.Errorf("pi2pictl chat exited %d: %s", code, send.errOut.String())
			}
			break
		}
		if !strings.Contains(send.errOut.String(), "away") || time.Now().After(deadline) {
			t.Fatalf("chat from ali to bianca failed (exit %d): %s", code, send.errOut.String())
		}
		time.Sleep(pause)
		pause = min(2*pause, time.Second)
	}
	if code := recv.finish(t, "pi2pictl wait", 60*time.Second); code != 0 {
		t.Errorf("pi2pictl wait exited %d: %s", code, recv.errOut.String())
	}
	check := func(who, out, first, want string) {
		t.Helper()
		got := r.cutBanner(t, who, out, first)
		if exp := shown(want) + ended + "\n"; got != exp {
			t.Errorf("%s's transcript after the banner differs at byte %d\ngot  %q\nwant %q\nali's stderr: %s\nbianca's stderr: %s",
				who, firstDiff(got, exp), got, exp, send.errOut.String(), recv.errOut.String())
		}
	}
	if intruder != nil {
		// Refused while bianca chats; or, after her chat, taken by her
		// wait that is about to exit (pi2pid keeps a wait attached until
		// it leaves), and then ended at once, since carol's stdin is empty.
		code := intruder.finish(t, "the third pi2pictl chat", 60*time.Second)
		e, out := intruder.errOut.String(), intruder.stdoutSoFar()
		refused := code == 1 && (strings.Contains(e, "busy") || strings.Contains(e, "away"))
		if !refused && (code != 0 || r.cutBanner(t, "carol", out, established) != ended+"\n") {
			t.Errorf("a third caller during the chat: exit %d, stdout %q, stderr %q; want busy or away", code, out, e)
		}
	}
	check("bianca", recv.stdoutSoFar(), received("ali"), aliText)
	check("ali", send.stdoutSoFar(), established, biaText)
	r.bia.waitState("logged-in")
	r.ali.waitState("logged-in")
}
