package main

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pi2pi/pi2pi/internal/testbin"
	"github.com/pi2pi/pi2pi/internal/transport"
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

// looseStateWithKey makes a state directory of mode 0755 holding a real
// identity key of mode perm.
func looseStateWithKey(t *testing.T, perm os.FileMode) (dir, key string) {
	t.Helper()
	dir = filepath.Join(t.TempDir(), "state")
	key = filepath.Join(dir, "identity.key")
	if _, err := transport.LoadOrCreateIdentity(key); err != nil {
		t.Fatal(err)
	}
	for path, m := range map[string]os.FileMode{dir: 0o755, key: perm} {
		if err := os.Chmod(path, m); err != nil {
			t.Fatal(err)
		}
	}
	return dir, key
}

// TestLooseIdentityKeyIsTightened: an identity.key of pi2pid's own that
// others could read (0644 in a 0755 directory) is tightened to 0600, and
// pi2pid says that it may have been copied and what to do.
func TestLooseIdentityKeyIsTightened(t *testing.T) {
	dir, key := looseStateWithKey(t, 0o644)
	port := testbin.FreePort(t, "127.0.0.2")
	d := startDaemon(t, "127.0.0.1:9", "127.0.0.2", port, "secure", "--state-dir", dir)
	fi, err := os.Stat(key)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("identity.key mode %#o after pi2pid started, want 0600", fi.Mode().Perm())
	}
	if logs := d.Logs(); !strings.Contains(logs, "someone may have copied it") || !strings.Contains(logs, "make a new identity") {
		t.Errorf("pi2pid did not warn about the readable identity.key:\n%s", logs)
	}
}

// TestForeignIdentityKeyIsRefused: an identity.key owned by another user
// stops pi2pid with a message that says what to do.
func TestForeignIdentityKeyIsRefused(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give a file to another user")
	}
	dir, key := looseStateWithKey(t, 0o600)
	if err := os.Chown(key, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	bin := testbin.Build(t, "./daemon/cmd/pi2pid")
	port := testbin.FreePort(t, "127.0.0.2")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--server", "127.0.0.1:9", "--listen", "127.0.0.2:"+strconv.Itoa(port),
		"--control", filepath.Join(t.TempDir(), "control.sock"), "--state-dir", dir, "--keypad", "console",
		"--security", "secure", "--config", os.DevNull)
	cmd.Env = cleanEnv()
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("pi2pid with a foreign identity.key: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "identity.key belongs to uid 65534") || !strings.Contains(string(out), "chown") {
		t.Fatalf("pi2pid's message does not say what is wrong and what to do:\n%s", out)
	}
}
