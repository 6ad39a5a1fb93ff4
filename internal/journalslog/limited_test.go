package journalslog

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestLimited(t *testing.T) {
	var buf bytes.Buffer
	l := Limited(slog.New(slog.NewTextHandler(&buf, nil)), 3, time.Second)
	now := time.Unix(1000, 0)
	l.Handler().(*limitedHandler).lim.now = func() time.Time { return now }
	peer := l.With("from", "192.0.2.1") // shares the bucket
	for range 10 {
		peer.Warn("flood")
	}
	if n := strings.Count(buf.String(), "flood"); n != 3 {
		t.Fatalf("a burst of 10 wrote %d lines, want 3:\n%s", n, &buf)
	}
	now = now.Add(1500 * time.Millisecond) // one token back
	l.Warn("later")
	l.Warn("dropped")
	out := buf.String()
	if !strings.Contains(out, "msg=later suppressed=7") || strings.Contains(out, "msg=dropped") {
		t.Fatalf("after the refill: want one line counting the 7 dropped, got:\n%s", out)
	}
}
