package statedir

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func mode(t *testing.T, path string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

// TestNewDirectoryIsPrivate: a state directory pi2pid creates is 0700.
func TestNewDirectoryIsPrivate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state", "pi2pid")
	tightened, err := Prepare(path)
	if err != nil || tightened {
		t.Fatalf("Prepare: %v, tightened %v", err, tightened)
	}
	if m := mode(t, path); m != 0o700 {
		t.Fatalf("mode %#o, want 0700", m)
	}
}

// TestLooseDirectoryIsTightened: an existing state directory that others
// may read or enter (0755, 0777, 0750) is tightened to 0700.
func TestLooseDirectoryIsTightened(t *testing.T) {
	for _, loose := range []os.FileMode{0o755, 0o777, 0o750, 0o701} {
		path := filepath.Join(t.TempDir(), "pi2pid")
		if err := os.Mkdir(path, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, loose); err != nil {
			t.Fatal(err)
		}
		tightened, err := Prepare(path)
		if err != nil || !tightened {
			t.Fatalf("%#o: Prepare: %v, tightened %v", loose, err, tightened)
		}
		if m := mode(t, path); m != 0o700 {
			t.Fatalf("%#o: mode after Prepare %#o, want 0700", loose, m)
		}
	}
}

// TestForeignDirectoryIsRefused: a state directory owned by another
// user is refused with a message that says what to do.
func TestForeignDirectoryIsRefused(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give a directory to another user")
	}
	path := filepath.Join(t.TempDir(), "pi2pid")
	if err := os.Mkdir(path, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(path, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	// pi2pid runs as root here; the directory is nobody's.
	_, err := Prepare(path)
	if err == nil || !strings.Contains(err.Error(), "belongs to uid 65534") || !strings.Contains(err.Error(), "chown") {
		t.Fatalf("Prepare of a foreign directory: %v", err)
	}
}
