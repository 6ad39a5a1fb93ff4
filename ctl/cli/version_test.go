package cli

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

func TestVersion(t *testing.T) {
	var out, errb strings.Builder
	code := Run([]string{"--version"}, &Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, Version: "1.2.3"})
	if code != 0 || out.String() != "pi2pictl 1.2.3\n" || errb.Len() != 0 {
		t.Fatalf("--version: exit %d, stdout %q, stderr %q", code, out.String(), errb.String())
	}
}

// TestExplainTimeout: a daemon that never answers (socket activation of a
// pi2pid that fails to start) is explained with where to look, not as a
// bare i/o timeout.
func TestExplainTimeout(t *testing.T) {
	err := fmt.Errorf("talking to pi2pid: %w", context.DeadlineExceeded)
	msg := explain(err, "/run/pi2pid/control.sock")
	for _, want := range []string{"did not answer on /run/pi2pid/control.sock", "systemctl status pi2pid", "journalctl -u pi2pid"} {
		if !strings.Contains(msg, want) {
			t.Errorf("explain(timeout) = %q, does not say %q", msg, want)
		}
	}
}
