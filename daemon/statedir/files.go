package statedir

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// stateFile is a file pi2pid keeps in its state directory, with the mode
// bits others must not have and what to say when they had them.
type stateFile struct {
	name string
	deny uint32 // group and other bits refused
	// wrote: said when others could write it; read: when they could only
	// read it; remove: what removing the file does.
	wrote, read, remove string
}

var stateFiles = []stateFile{
	{"identity.key", 0o077,
		"someone may have changed it, or copied it",
		"someone may have copied it",
		"remove it to make a new identity (your peers will be asked to accept the new key)"},
	{"known_hosts", 0o022,
		"someone may have changed the pinned server key",
		"",
		"remove it to pin the server's key afresh at the next login, or compare it with `pi2pi-server fingerprint` on the server"},
	{"peers", 0o077,
		"someone may have changed the keys accepted for your peers",
		"someone may have read whom you chat with",
		"remove it to start the record of your peers' keys afresh"},
}

// CheckFiles checks pi2pid's files in the state directory dir:
// identity.key, known_hosts and peers. A file owned by another user (not
// root) is refused with a message that says what to do: that user can
// read or change it. A file of pi2pid's own that others could read
// (identity.key, peers) or write (any) is tightened to 0600 through its
// descriptor, and notes says so and what may have happened. A missing
// file, or one that is not a regular file, is left to the code that uses
// it.
func CheckFiles(dir string) (notes []string, err error) {
	for _, f := range stateFiles {
		note, err := checkFile(filepath.Join(dir, f.name), f)
		if err != nil {
			return notes, err
		}
		if note != "" {
			notes = append(notes, note)
		}
	}
	return notes, nil
}

func checkFile(path string, f stateFile) (string, error) {
	const flags = unix.O_RDONLY | unix.O_NONBLOCK | unix.O_NOCTTY | unix.O_CLOEXEC
	fd, err := unix.Open(path, flags|unix.O_NOFOLLOW, 0)
	if errors.Is(err, unix.ELOOP) {
		fd, err = unix.Open(path, flags, 0) // a symlink: check what it points to
	}
	if errors.Is(err, unix.ENOENT) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("checking %s: %w", path, err)
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return "", fmt.Errorf("checking %s: %w", path, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return "", nil
	}
	if uid := uint32(os.Geteuid()); st.Uid != uid && st.Uid != 0 {
		return "", fmt.Errorf("%s belongs to uid %d, not to pi2pid (uid %d): that user can read or change it. "+
			"If it is pi2pid's own, give it back (sudo chown %d %s); otherwise %s",
			path, st.Uid, uid, uid, path, f.remove)
	}
	perm := st.Mode & 0o777
	if perm&f.deny == 0 {
		return "", nil
	}
	what, why := "readable", f.read
	if perm&0o022 != 0 {
		what, why = "writable", f.wrote
	}
	if err := unix.Fchmod(fd, 0o600); err != nil {
		return "", fmt.Errorf("%s is %s by others (mode %#o) and cannot be tightened to 0600: %w; "+
			"fix it with: sudo chmod 600 %s", path, what, perm, err, path)
	}
	return fmt.Sprintf("%s was %s by others (mode %#o); it is now 0600. If others could enter the state directory, %s: %s",
		path, what, perm, why, f.remove), nil
}
