// Package statedir prepares pi2pid's state directory, which holds the
// terminal's private key, the pinned server key and the keys accepted for
// peers: it must be pi2pid's own and closed to everyone else.
package statedir

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// Prepare creates path (mode 0700) when it does not exist. An existing
// directory of pi2pid's own that others may read, write or enter is
// tightened to 0700 through its descriptor, and tightened reports that
// it was. A directory owned by someone else (not root) is refused with a
// message that says what to do: pi2pid cannot know who else holds it.
func Prepare(path string) (tightened bool, err error) {
	if err := os.MkdirAll(path, 0o700); err != nil {
		return false, fmt.Errorf("creating the state directory: %w", err)
	}
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.ELOOP) || errors.Is(err, unix.ENOTDIR) {
		// A symlink to the real directory (an administrator's choice):
		// check what it points to.
		fd, err = unix.Open(path, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	}
	if err != nil {
		return false, fmt.Errorf("opening the state directory %s: %w", path, err)
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return false, fmt.Errorf("checking the state directory %s: %w", path, err)
	}
	if uid := uint32(os.Geteuid()); st.Uid != uid && st.Uid != 0 {
		return false, fmt.Errorf("the state directory %s belongs to uid %d, not to pi2pid (uid %d): "+
			"someone else could read its keys; give it to pi2pid (sudo chown -R %d %s) or choose another --state-dir",
			path, st.Uid, uid, uid, path)
	}
	if st.Mode&0o077 == 0 {
		return false, nil
	}
	if err := unix.Fchmod(fd, 0o700); err != nil {
		return false, fmt.Errorf("the state directory %s has mode %#o, open to others, and cannot be tightened to 0700: %w; "+
			"fix it with: sudo chmod 700 %s", path, st.Mode&0o777, err, path)
	}
	return true, nil
}
