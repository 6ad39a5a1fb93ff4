package e2e

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pi2pi/pi2pi/daemon/peerlink"
)

// chatBound is the stated bound (docs/protocol.md, "Delivery") on what
// pi2pid holds of one chat's text: the copy buffers of its data stream,
// one per direction. rssSlack is the Go runtime's share on top of it (heap
// goal, TLS buffers, goroutine stacks), which a bound on text cannot
// include.
const (
	chatBound = 2 * peerlink.ReadChunk
	rssSlack  = 16 << 20
)

// rss returns the resident set size of process pid in bytes.
func rss(t testing.TB, pid int) int {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if rest, ok := strings.CutPrefix(s.Text(), "VmRSS:"); ok {
			kb, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")))
			if err != nil {
				t.Fatalf("VmRSS %q: %v", rest, err)
			}
			return kb << 10
		}
	}
	t.Fatalf("no VmRSS in /proc/%d/status", pid)
	return 0
}

// TestSenderMemoryStalledReceiver sends 100 MB through `pi2pictl chat` to
// a `pi2pictl wait` whose output nobody reads for 25 s (a suspended
// `pi2pictl wait | slow-consumer`): the chat must go on (backpressure, not
// a vanished peer), the sender's pi2pid must stay within the stated bound
// of its idle size, and everything must arrive once the receiver reads
// again.
func TestSenderMemoryStalledReceiver(t *testing.T) {
	const total = 100 << 20
	r := newDeliveryRig(t, "secure")
	outR, outW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer outR.Close()
	c := startChatPair(t, r.ali, r.bia, "bianca", true, outW)
	outW.Close()
	pid := r.ali.p.cmd.Process.Pid
	idle := rss(t, pid)
	line := strings.Repeat("0123456789abcdef", 255) + "stalled receiver\n" // 4 KiB
	go func() {
		buf := []byte(strings.Repeat(line, 16))
		for sent := 0; sent < total; sent += len(buf) {
			if _, err := c.sender.stdin.Write(buf); err != nil {
				return
			}
		}
		c.sender.stdin.Close()
	}()
	peak := idle
	sample := func() { peak = max(peak, rss(t, pid)) }
	// Stalled: nobody reads bianca's output, for longer than a vanished
	// peer is given: a slow receiver is not a vanished one.
	for end := time.Now().Add(peerlink.Unanswered + 5*time.Second); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		sample()
		if c.sender.exited() {
			t.Fatalf("the chat ended while the receiver was stalled: %s", c.sender.errOut.String())
		}
	}
	// The receiver reads again; everything must arrive.
	var got atomic.Int64
	readDone := make(chan error, 1)
	go func() {
		n, err := io.Copy(io.Discard, outR)
		got.Store(n)
		readDone <- err
	}()
	deadline := time.After(5 * time.Minute)
	for !c.sender.exited() {
		select {
		case <-deadline:
			t.Fatalf("the 100 MB did not get through in 5 minutes")
		case <-time.After(50 * time.Millisecond):
		}
		sample()
	}
	c.receiver.finish(t, "pi2pictl wait", time.Minute)
	<-readDone
	t.Logf("sender pi2pid: idle RSS %d KiB, peak %d KiB (+%d KiB); received %d bytes",
		idle>>10, peak>>10, (peak-idle)>>10, got.Load())
	if got.Load() < total {
		t.Errorf("the receiver got %d bytes of output, want more than %d", got.Load(), total)
	}
	if peak > idle+chatBound+rssSlack {
		t.Errorf("sender pi2pid grew from %d KiB to %d KiB during the transfer, over the bound of %d KiB (+%d KiB runtime slack)",
			idle>>10, peak>>10, chatBound>>10, rssSlack>>10)
	}
}
