package sockets

import (
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// socketOwner returns the mode bits and the group of the file at path.
func socketOwner(t *testing.T, path string) (os.FileMode, int) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode()&os.ModeSocket == 0 {
		t.Fatalf("%s is not a socket: %v", path, fi.Mode())
	}
	return fi.Mode().Perm(), int(fi.Sys().(*syscall.Stat_t).Gid)
}

// TestControlSocketModeWhateverTheUmask: the control socket is 0660 under
// a permissive umask (which would leave it 0777) and under a strict one
// (which would leave it 0700), and the umask is given back unchanged.
func TestControlSocketModeWhateverTheUmask(t *testing.T) {
	for _, mask := range []int{0o000, 0o022, 0o077} {
		old := unix.Umask(mask)
		path := filepath.Join(t.TempDir(), "control.sock")
		l, err := ListenUnix(path, quiet)
		after := unix.Umask(old)
		if err != nil {
			t.Fatal(err)
		}
		if after != mask {
			t.Errorf("umask %#o was left as %#o", mask, after)
		}
		if mode, _ := socketOwner(t, path); mode != 0o660 {
			t.Errorf("umask %#o: control socket mode %#o, want 0660", mask, mode)
		}
		l.Close()
	}
}

// TestControlSocketGroup: the socket belongs to group pi2pi when that group
// exists. The system's groups are left alone: the real group is checked
// when it exists; otherwise the lookup is replaced by one that finds a group
// this process may give files to (as root, any gid; else one of its
// supplementary groups). When the group does not exist, the socket keeps
// the daemon's own group.
func TestControlSocketGroup(t *testing.T) {
	t.Run("real group", func(t *testing.T) {
		g, err := user.LookupGroup(Group)
		if err != nil {
			t.Skipf("no group %q on this system (%v); the injected lookup below checks the code path", Group, err)
		}
		want, _ := strconv.Atoi(g.Gid)
		path := filepath.Join(t.TempDir(), "control.sock")
		l, err := ListenUnix(path, quiet)
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		mode, gid := socketOwner(t, path)
		if os.Geteuid() != 0 && !inGroup(want) {
			// chown to a group we are not in fails; the daemon warns.
			t.Skipf("not root and not in group %s: cannot give the socket to it (gid %d)", Group, gid)
		}
		if mode != 0o660 || gid != want {
			t.Errorf("control socket mode %#o gid %d, want 0660 and group %s (%d)", mode, gid, Group, want)
		}
	})

	t.Run("injected group", func(t *testing.T) {
		want := otherGroup()
		if want < 0 {
			t.Skip("not root and in no supplementary group: no group to give the socket to")
		}
		var asked []string
		lookupGroup = func(name string) (*user.Group, error) {
			asked = append(asked, name)
			return &user.Group{Gid: strconv.Itoa(want), Name: name}, nil
		}
		defer func() { lookupGroup = user.LookupGroup }()
		path := filepath.Join(t.TempDir(), "control.sock")
		l, err := ListenUnix(path, quiet)
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		if len(asked) != 1 || asked[0] != "pi2pi" {
			t.Errorf("looked up groups %q, want [pi2pi]", asked)
		}
		if mode, gid := socketOwner(t, path); mode != 0o660 || gid != want {
			t.Errorf("control socket mode %#o gid %d, want 0660 and gid %d", mode, gid, want)
		}
	})

	t.Run("no such group", func(t *testing.T) {
		lookupGroup = func(name string) (*user.Group, error) { return nil, user.UnknownGroupError(name) }
		defer func() { lookupGroup = user.LookupGroup }()
		dir := t.TempDir()
		path := filepath.Join(dir, "control.sock")
		l, err := ListenUnix(path, quiet)
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		// A new file takes the directory's group when it is setgid, the
		// process's group otherwise.
		want := os.Getegid()
		if fi, err := os.Stat(dir); err == nil && fi.Mode()&os.ModeSetgid != 0 {
			want = int(fi.Sys().(*syscall.Stat_t).Gid)
		}
		if mode, gid := socketOwner(t, path); mode != 0o660 || gid != want {
			t.Errorf("control socket mode %#o gid %d, want 0660 and the daemon's own gid %d", mode, gid, want)
		}
	})
}

// otherGroup returns a gid other than ours that this process may chown a
// file to, or -1.
func otherGroup() int {
	if os.Geteuid() == 0 {
		return 65534 // nogroup; root may use any gid, named or not
	}
	groups, _ := os.Getgroups()
	for _, g := range groups {
		if g != os.Getegid() {
			return g
		}
	}
	return -1
}

// inGroup reports whether gid is among the process's groups.
func inGroup(gid int) bool {
	if gid == os.Getegid() {
		return true
	}
	groups, _ := os.Getgroups()
	for _, g := range groups {
		if g == gid {
			return true
		}
	}
	return false
}
