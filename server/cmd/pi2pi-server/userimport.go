package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/pi2pi/pi2pi/server/userstore"
)

// importFlags are the arguments of `user import`.
type importFlags struct {
	file, usersPath, stateDir string
	skipBad, replace          bool
}

// maxImportFile bounds the class file read into memory (a class of
// thousands of users is well under 1 MiB).
const maxImportFile = 16 << 20

// userImport enrols every entry of a class's user file (the seeds'
// {"userid": ["credential", "key"], ...}). Nothing is written unless every
// entry is good, or --skip-bad is given; the users file is replaced
// atomically in one write, under the same lock as every `user` command.
// Credentials and keys are never printed: problems name the line and the
// user ID only.
//
// FILE "-" reads the class file from stdin; messages then name "stdin".
func userImport(f importFlags, stdin io.Reader, stderr io.Writer) error {
	entries, err := readImport(f.file, stdin)
	if f.file == "-" {
		f.file = "stdin"
	}
	if err != nil {
		return err
	}
	problems := entries.problems
	existing, err := userstore.ReadFile(f.usersPath)
	if err != nil {
		return err
	}
	good, clashes := splitExisting(entries.good, existing, f.replace)
	problems = append(problems, clashes...)
	for _, p := range problems {
		fmt.Fprintf(stderr, "%s: %s\n", f.file, p)
	}
	if len(problems) > 0 && len(good) == 0 {
		fmt.Fprintf(stderr, "nothing imported: %d bad entries in %s and no good one; fix them and import again\n", len(problems), f.file)
		return errFailed
	}
	if len(problems) > 0 && !f.skipBad {
		fmt.Fprintf(stderr, "nothing imported: %d bad entries in %s (fix them, or import the %d good ones with --skip-bad)\n",
			len(problems), f.file, len(good))
		return errFailed
	}
	if len(good) == 0 {
		return fmt.Errorf("nothing to import from %s", f.file)
	}
	hashes, err := hashAll(good, f.stateDir, stderr)
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "writing %s\n", f.usersPath)
	replaced, keysRemoved, err := writeImport(f, good, hashes)
	if err != nil {
		return err
	}
	keys := 0
	for _, e := range good {
		if e.Key != "" {
			keys++
		}
	}
	fmt.Fprintf(stderr, "imported %d users (%d with a key) from %s", len(good), keys, f.file)
	if replaced > 0 {
		fmt.Fprintf(stderr, "; replaced %d enrolled users, removing %d existing keys (their entries have none)", replaced, keysRemoved)
	}
	if len(problems) > 0 {
		fmt.Fprintf(stderr, "; skipped %d bad entries (listed above)", len(problems))
	}
	fmt.Fprintf(stderr, "; %s\n", reloadHint)
	return nil
}

// writeImport enrols good with their hashes in one atomic write. It
// returns how many users were already enrolled (and replaced), and of
// those how many lost their key because their entry has none.
func writeImport(f importFlags, good []userstore.ImportEntry, hashes []string) (replaced, keysRemoved int, err error) {
	err = userstore.Edit(f.usersPath, func(users map[string]userstore.User) error {
		// Someone may have enrolled one of them since we looked.
		if _, late := splitExisting(good, users, f.replace); len(late) > 0 {
			return fmt.Errorf("nothing imported: %s (added to %s while importing); run the import again", late[0], f.usersPath)
		}
		replaced, keysRemoved = 0, 0
		now := time.Now()
		for i, e := range good {
			u, exists := users[e.Name]
			if exists {
				replaced++
				if u.Key != "" && e.Key == "" {
					keysRemoved++
				}
				u.Unlocked = now // a new credential clears the failure counter, as passwd does
			}
			u.Name, u.Hash, u.Key = e.Name, hashes[i], e.Key
			users[e.Name] = u
		}
		return nil
	})
	return replaced, keysRemoved, err
}

type parsedImport struct {
	good     []userstore.ImportEntry
	problems []userstore.ImportProblem
}

func readImport(path string, stdin io.Reader) (parsedImport, error) {
	var r io.Reader = stdin
	if path == "-" {
		path = "stdin"
	} else {
		fh, err := os.Open(path)
		if err != nil {
			return parsedImport{}, err
		}
		defer fh.Close()
		r = fh
	}
	data, err := io.ReadAll(io.LimitReader(r, maxImportFile+1))
	if err != nil {
		return parsedImport{}, fmt.Errorf("reading %s: %w", path, err)
	}
	if len(data) > maxImportFile {
		return parsedImport{}, fmt.Errorf("%s is over %d MiB; that is not a class's user file", path, maxImportFile>>20)
	}
	good, problems, err := userstore.ParseImport(data)
	if err != nil {
		return parsedImport{}, fmt.Errorf("%s: %w; nothing imported", path, err)
	}
	return parsedImport{good, problems}, nil
}

// splitExisting separates the entries naming users already in users
// (unless replace) as problems.
func splitExisting(entries []userstore.ImportEntry, users map[string]userstore.User, replace bool) ([]userstore.ImportEntry, []userstore.ImportProblem) {
	if replace {
		return entries, nil
	}
	var good []userstore.ImportEntry
	var clashes []userstore.ImportProblem
	for _, e := range entries {
		if _, ok := users[e.Name]; ok {
			clashes = append(clashes, userstore.ImportProblem{Line: e.Line, ID: e.ID,
				Msg: fmt.Sprintf("user %s is already enrolled (overwrite with --replace)", e.Name)})
			continue
		}
		good = append(good, e)
	}
	return good, clashes
}

// hashAll computes the argon2id hash of every credential, as many at once
// as there are CPUs (each takes ~19 MiB and tens of milliseconds).
func hashAll(entries []userstore.ImportEntry, stateDir string, stderr io.Writer) ([]string, error) {
	if err := os.MkdirAll(stateDir, 0o700); err != nil {
		return nil, fmt.Errorf("state directory: %w", err)
	}
	pepper, err := userstore.LoadOrCreatePepper(stateDir)
	if err != nil {
		return nil, err
	}
	workers := userstore.MaxConcurrent()
	h := userstore.NewHasher(pepper, userstore.DefaultParams, workers)
	fmt.Fprintf(stderr, "hashing %d credentials (argon2id)\n", len(entries))
	hashes := make([]string, len(entries))
	errs := make([]error, len(entries))
	next := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				hashes[i], errs[i] = h.Hash(context.Background(), entries[i].Credential)
			}
		}()
	}
	for i := range entries {
		next <- i
	}
	close(next)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return hashes, nil
}
