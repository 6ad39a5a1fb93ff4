package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pi2pi/pi2pi/internal/testbin"
)

// TestLooseStateDirIsTightened: pi2pid started on an existing state
// directory that others may enter and read (0755, as `mkdir` leaves it)
// tightens it to 0700 and says so, before it makes its key there.
func TestLooseStateDirIsTightened(t *testing.T) {
	loose := filepath.Join(t.TempDir(), "state")
	if err := os.Mkdir(loose, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(loose, 0o755); err != nil {
		t.Fatal(err)
	}
	port := testbin.FreePort(t, "127.0.0.2")
	d := startDaemon(t, "127.0.0.1:9", "127.0.0.2", port, "secure", "--state-dir", loose)
	fi, err := os.Stat(loose)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o700 {
		t.Fatalf("state directory mode %#o after pi2pid started, want 0700", fi.Mode().Perm())
	}
	if !strings.Contains(d.Logs(), "now 0700") {
		t.Errorf("pi2pid did not say it tightened the state directory:\n%s", d.Logs())
	}
}
