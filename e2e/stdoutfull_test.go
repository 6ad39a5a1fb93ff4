package e2e

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

// TestReceiverStdoutFull is the outside tester's case: `pi2pictl wait
// </dev/null >/dev/full` takes a chat of `seq 100000 | pi2pictl chat`
// (and of one line, whose sender has ended before the receiver fails).
// The receiver cannot write the text: it says so on stderr, ends the chat
// and exits 1; the sender is told the chat broke and exits 1 too. Before,
// both exited 0 and the text vanished. Both modes.
func TestReceiverStdoutFull(t *testing.T) {
	var seq strings.Builder
	for i := 1; i <= 100000; i++ {
		fmt.Fprintf(&seq, "%d\n", i)
	}
	for _, tc := range []struct{ mode, name, text string }{
		{"plain", "seq", seq.String()}, {"secure", "seq", seq.String()},
		{"plain", "line", "hi\n"}, {"secure", "line", "hi\n"},
	} {
		mode := tc.mode
		t.Run(mode+"/"+tc.name, func(t *testing.T) {
			full, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
			if err != nil {
				t.Skipf("no /dev/full to write to: %v", err)
			}
			defer full.Close()
			r := newDeliveryRig(t, mode)
			c := startChatPair(t, r.ali, r.bia, "bianca", false, full)
			go func() {
				_, _ = c.sender.stdin.Write([]byte(tc.text))
				c.sender.stdin.Close()
			}()
			if code := c.receiver.finish(t, "pi2pictl wait > /dev/full", time.Minute); code != 1 {
				t.Fatalf("pi2pictl wait exited %d, want 1; stderr %q", code, c.receiver.errOut.String())
			}
			want := "pi2pictl: cannot write what ali sends to the standard output (write /dev/stdout: no space left on device), " +
				"so the chat is ended: free some space or send the output elsewhere.\n"
			if got := c.receiver.errOut.String(); got != want {
				t.Fatalf("pi2pictl wait's stderr:\n%q\nwant\n%q", got, want)
			}
			code := c.sender.finish(t, "pi2pictl chat", time.Minute)
			if errOut := c.sender.errOut.String(); code != 1 || !strings.Contains(errOut, "bianca") ||
				!strings.Contains(errOut, "may not have arrived") {
				t.Fatalf("pi2pictl chat exited %d; stderr %q", code, errOut)
			}
		})
	}
}
