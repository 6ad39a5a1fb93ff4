// Package userstore is pi2pi-server's user file and the argon2id hashing of
// the credentials in it.
//
// The file is text, one user per line:
//
//	NAME ARGON2ID-PHC [unlocked=UNIX-NANOSECONDS] [key=BASE64URL]
//
// Blank lines and lines starting with '#' are ignored. The PHC string
// hashes HMAC-SHA256(pepper, credential), where credential is what the
// terminal sends as the AUTHREQ passcode and the pepper lives in the state
// directory. "unlocked" records the last `user unlock` (or passwd): failure
// counters older than it no longer count. "key" is the user's key string
// for plain mode (the seeds' per-user encryption key, handed out in a plain
// LOOKUPREPLY), base64url without padding so that spaces survive. Only the `user` commands write
// the file (atomically, under a lock file); the server only reads it.
package userstore

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pi2pi/pi2pi/internal/transport"
	"github.com/pi2pi/pi2pi/internal/wire"
)

// User is one line of the users file.
type User struct {
	Name     string // normalised (lower case)
	Hash     string // argon2id PHC string
	Unlocked time.Time
	// Key is the plain-mode key string ("" when not set); see ValidKey.
	Key string
}

// Parse reads a users file.
func Parse(r io.Reader) (map[string]User, error) {
	users := map[string]User{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4096), 64<<10)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) < 2 {
			return nil, fmt.Errorf("line %d: want NAME HASH", n)
		}
		name, err := wire.NormalizeUserID(fields[0])
		if err != nil {
			return nil, fmt.Errorf("line %d: %v", n, err)
		}
		if _, _, _, err := parsePHC(fields[1]); err != nil {
			return nil, fmt.Errorf("line %d (%s): %v", n, name, err)
		}
		u := User{Name: name, Hash: fields[1]}
		for _, f := range fields[2:] {
			k, v, _ := strings.Cut(f, "=")
			switch k {
			case "unlocked":
				ns, err := strconv.ParseInt(v, 10, 64)
				if err != nil {
					return nil, fmt.Errorf("line %d (%s): bad unlocked time", n, name)
				}
				u.Unlocked = time.Unix(0, ns)
			case "key":
				key, err := decodeKey(v)
				if err != nil {
					return nil, fmt.Errorf("line %d (%s): bad key: %v", n, name, err)
				}
				u.Key = key
			default:
				// Unknown attributes are kept for forward compatibility
				// only in the sense that they do not fail the load.
			}
		}
		if _, dup := users[name]; dup {
			return nil, fmt.Errorf("line %d: user %s appears twice", n, name)
		}
		users[name] = u
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return users, nil
}

// Format encodes users as a users file, sorted by name.
func Format(users map[string]User) []byte {
	names := make([]string, 0, len(users))
	for n := range users {
		names = append(names, n)
	}
	sort.Strings(names)
	var b bytes.Buffer
	b.WriteString("# pi2pi-server users: NAME ARGON2ID-PHC [unlocked=UNIX-NS] [key=BASE64URL]. Edit with `pi2pi-server user`.\n")
	for _, n := range names {
		u := users[n]
		b.WriteString(u.Name)
		b.WriteByte(' ')
		b.WriteString(u.Hash)
		if !u.Unlocked.IsZero() {
			fmt.Fprintf(&b, " unlocked=%d", u.Unlocked.UnixNano())
		}
		if u.Key != "" {
			b.WriteString(" key=")
			b.WriteString(keyEncoding.EncodeToString([]byte(u.Key)))
		}
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// ReadFile reads the users file at path; a missing file is an empty store.
func ReadFile(path string) (map[string]User, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return map[string]User{}, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	users, err := Parse(f)
	if err != nil {
		return nil, fmt.Errorf("users file %s: %w", path, err)
	}
	return users, nil
}

// Edit applies fn to the users file at path under an exclusive lock and
// writes the result atomically. It fails without writing if fn fails.
func Edit(path string, fn func(users map[string]User) error) error {
	unlock, err := lockFile(path + ".lock")
	if err != nil {
		return fmt.Errorf("locking users file: %w", err)
	}
	defer unlock()
	removeStaleTemps(path)
	users, err := ReadFile(path)
	if err != nil {
		return err
	}
	if err := fn(users); err != nil {
		return err
	}
	return transport.WriteFileAtomic(path, Format(users), 0o640)
}

// removeStaleTemps deletes the temporary files that a writer killed
// before its rename left next to path. Only holders of the lock write
// them, so none is in use while we hold it.
func removeStaleTemps(path string) {
	stale, _ := filepath.Glob(filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp*"))
	for _, f := range stale {
		_ = os.Remove(f)
	}
}

// Store is the server's read-only view of the users file. It re-reads the
// file on Reload, and on ReloadIfChanged when the file was replaced.
type Store struct {
	path  string
	mu    sync.RWMutex
	users map[string]User
	info  os.FileInfo
}

// Open loads the users file at path. A missing file gives an empty store
// that fills once the file appears.
func Open(path string) (*Store, error) {
	s := &Store{path: path}
	if _, err := s.Reload(); err != nil {
		return nil, err
	}
	return s, nil
}

// Path returns the users file's path.
func (s *Store) Path() string { return s.path }

// Reload re-reads the file. On error the previous users stay in force.
// It returns the number of users loaded.
func (s *Store) Reload() (int, error) {
	info, _ := os.Stat(s.path)
	users, err := ReadFile(s.path)
	if err != nil {
		return 0, err
	}
	s.mu.Lock()
	s.users, s.info = users, info
	s.mu.Unlock()
	return len(users), nil
}

// ReloadIfChanged re-reads the file when it was replaced or modified since
// the last load (one stat call otherwise). It reports whether it reloaded.
func (s *Store) ReloadIfChanged() (bool, error) {
	info, err := os.Stat(s.path)
	s.mu.RLock()
	old := s.info
	s.mu.RUnlock()
	switch {
	case err != nil && old == nil:
		return false, nil
	case err == nil && old != nil && os.SameFile(info, old) && info.ModTime().Equal(old.ModTime()) && info.Size() == old.Size():
		return false, nil
	}
	_, err = s.Reload()
	return err == nil, err
}

// Lookup returns the user called name (already normalised).
func (s *Store) Lookup(name string) (User, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	u, ok := s.users[name]
	return u, ok
}

// Len returns the number of users.
func (s *Store) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.users)
}
