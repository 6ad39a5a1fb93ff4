//go:build unix

package main

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pi2pi/pi2pi/internal/testbin"
)

// Issue 11 item 9: a server whose open-file limit is below --max-conns
// says so at start, since connections would fail with "too many open
// files" before the cap refuses them; with room to spare it says nothing.
func TestWarnsWhenOpenFileLimitBelowMaxConns(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh to set the open-file limit with ulimit")
	}
	const warning = "open-file limit is below --max-conns"
	for _, tc := range []struct {
		maxConns string
		warn     bool
	}{{"2048", true}, {"400", false}} {
		dir := t.TempDir()
		cmd := exec.Command(sh, "-c", `ulimit -n 512 && exec "$0" "$@"`, binary, "serve",
			"--users", filepath.Join(dir, "users"), "--state-dir", dir, "--security", "plain",
			"--listen", "127.0.0.1:0", "--max-conns", tc.maxConns)
		p := testbin.Start(t, cmd)
		logs := p.WaitLog(t, "msg=listening")
		if strings.Contains(p.Logs(), warning) != tc.warn {
			t.Errorf("--max-conns %s with 512 open files: warned %v, want %v\n%s", tc.maxConns, !tc.warn, tc.warn, logs)
		}
	}
}
