// Package leaktest checks that a test leaves no pi2pi goroutines behind.
package leaktest

import (
	"runtime"
	"strings"
	"testing"
	"time"
)

// Check registers a cleanup that fails t when goroutines running pi2pi
// code outlive the test by more than a few seconds. Call it first in a test
// so that it runs after the test's other cleanups.
func Check(t testing.TB) {
	t.Cleanup(func() {
		deadline := time.Now().Add(5 * time.Second)
		for {
			leaked := leaks()
			if len(leaked) == 0 {
				return
			}
			if time.Now().After(deadline) {
				t.Errorf("%d goroutine(s) leaked:\n\n%s", len(leaked), strings.Join(leaked, "\n\n"))
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
}

func leaks() []string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var out []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if !strings.Contains(g, "github.com/pi2pi/pi2pi/") ||
			strings.Contains(g, "leaktest.leaks") ||
			strings.Contains(g, "testing.(*T).Run") ||
			strings.Contains(g, "testing.(*B).") && !strings.Contains(g, "created by github.com/pi2pi") ||
			strings.Contains(g, "testing.tRunner") && !strings.Contains(g, "created by github.com/pi2pi") ||
			strings.Contains(g, "testing.runTests") ||
			strings.Contains(g, "testing.(*M).") {
			continue
		}
		out = append(out, g)
	}
	return out
}
