package statedir

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeFile(t *testing.T, path string, perm os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte("x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, perm); err != nil {
		t.Fatal(err)
	}
}

// TestLooseFilesAreTightened: an identity.key others may read, or a
// known_hosts or peers file others may write, in a directory that was
// loose, is tightened to 0600 with a warning that says what may have
// happened and what to do.
func TestLooseFilesAreTightened(t *testing.T) {
	cases := []struct {
		name string
		perm os.FileMode
		want string
	}{
		{"identity.key", 0o644, "someone may have copied it"},
		{"identity.key", 0o640, "someone may have copied it"},
		{"known_hosts", 0o666, "someone may have changed the pinned server key"},
		{"known_hosts", 0o620, "someone may have changed the pinned server key"},
		{"peers", 0o646, "someone may have changed the keys accepted for your peers"},
	}
	for _, tc := range cases {
		dir := t.TempDir()
		path := filepath.Join(dir, tc.name)
		writeFile(t, path, tc.perm)
		notes, err := CheckFiles(dir)
		if err != nil {
			t.Fatalf("%s %#o: %v", tc.name, tc.perm, err)
		}
		if len(notes) != 1 || !strings.Contains(notes[0], tc.name) || !strings.Contains(notes[0], tc.want) {
			t.Fatalf("%s %#o: notes %q", tc.name, tc.perm, notes)
		}
		if m := mode(t, path); m != 0o600 {
			t.Fatalf("%s %#o: mode after CheckFiles %#o, want 0600", tc.name, tc.perm, m)
		}
	}
}

// TestPrivateFilesPass: files of pi2pid's own with mode 0600 (or 0644
// for known_hosts, which others may read) or missing give no note.
func TestPrivateFilesPass(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "identity.key"), 0o600)
	writeFile(t, filepath.Join(dir, "known_hosts"), 0o644)
	notes, err := CheckFiles(dir)
	if err != nil || len(notes) != 0 {
		t.Fatalf("CheckFiles: %q, %v", notes, err)
	}
	if m := mode(t, filepath.Join(dir, "known_hosts")); m != 0o644 {
		t.Fatalf("known_hosts mode changed to %#o", m)
	}
}

// TestForeignFilesAreRefused: a state file owned by another user is
// refused, whatever its mode: its owner can read or change it.
func TestForeignFilesAreRefused(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give a file to another user")
	}
	for _, name := range []string{"identity.key", "known_hosts", "peers"} {
		dir := t.TempDir()
		path := filepath.Join(dir, name)
		writeFile(t, path, 0o600)
		if err := os.Chown(path, 65534, 65534); err != nil {
			t.Fatal(err)
		}
		_, err := CheckFiles(dir)
		if err == nil || !strings.Contains(err.Error(), name) || !strings.Contains(err.Error(), "belongs to uid 65534") {
			t.Fatalf("%s owned by 65534: %v", name, err)
		}
		if m := mode(t, path); m != 0o600 {
			t.Fatalf("%s: mode changed to %#o", name, m)
		}
	}
}
