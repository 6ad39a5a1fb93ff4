package sockets

import (
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
)

// TestControlSocketNoPathSwap: an attacker who can write to the socket's
// directory swaps the socket for a symlink to a file of pi2pid's at the
// worst moment: after the bind, before the socket's group is set (the
// group lookup is that moment). The chown must not follow the symlink:
// the file keeps its group and mode, and the control socket ends up at
// its path with mode 0660 and the group.
func TestControlSocketNoPathSwap(t *testing.T) {
	gid := otherGroup()
	if gid < 0 {
		t.Skip("not root and in no supplementary group: no group to give the socket to")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "control.sock")
	victim := filepath.Join(dir, "identity.key")
	if err := os.WriteFile(victim, []byte("secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	before, _ := os.Stat(victim)
	lookupGroup = func(name string) (*user.Group, error) {
		os.Remove(path)
		if err := os.Symlink(victim, path); err != nil {
			t.Error(err)
		}
		return &user.Group{Gid: strconv.Itoa(gid), Name: name}, nil
	}
	defer func() { lookupGroup = user.LookupGroup }()
	l, err := ListenUnix(path, quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	after, _ := os.Stat(victim)
	if after.Mode() != before.Mode() || after.Sys().(*syscall.Stat_t).Gid != before.Sys().(*syscall.Stat_t).Gid {
		t.Fatalf("the chown or chmod followed the swapped path: %s went from %v gid %d to %v gid %d", victim,
			before.Mode(), before.Sys().(*syscall.Stat_t).Gid, after.Mode(), after.Sys().(*syscall.Stat_t).Gid)
	}
	if mode, g := socketOwner(t, path); mode != 0o660 || g != gid {
		t.Fatalf("control socket mode %#o gid %d, want 0660 and gid %d", mode, g, gid)
	}
	// Nothing is left of the private directory.
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Errorf("the directory holds %d entries, want the socket and the file: %v", len(entries), entries)
	}
	l.Close()
	if _, err := os.Lstat(path); !os.IsNotExist(err) {
		t.Errorf("closing left the socket file: %v", err)
	}
}
