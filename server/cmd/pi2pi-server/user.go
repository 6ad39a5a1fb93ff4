package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/pi2pi/pi2pi/internal/credential"
	"github.com/pi2pi/pi2pi/internal/wire"
	"github.com/pi2pi/pi2pi/server/guard"
	"github.com/pi2pi/pi2pi/server/passprompt"
	"github.com/pi2pi/pi2pi/server/userstore"
)

const reloadHint = "a running server picks this up at the next login (or at once on SIGHUP: systemctl try-reload-or-restart pi2pi-server)"

func cmdUser(args []string, stdin *os.File, stdout, stderr io.Writer) error {
	fs := newFlagSet("user", stderr)
	usersPath := fs.String("users", env("PI2PI_SERVER_USERS", defaultUsers), "users file")
	stateDir := fs.String("state-dir", env("PI2PI_SERVER_STATE_DIR", defaultStateDir), "state directory (pepper, counters)")
	cred := fs.String("credential", "", "add/passwd: enrol this exact AUTHREQ passcode string (for course-style terminals)")
	key := fs.String("key", "", "add/passwd/key: the user's key string, handed out in plain-mode LOOKUPREPLYs")
	noKey := fs.Bool("no-key", false, "key: remove the user's key string")
	imp := importFlags{}
	fs.BoolVar(&imp.skipBad, "skip-bad", false, "import: write the good entries and list the bad ones")
	fs.BoolVar(&imp.replace, "replace", false, "import: overwrite users that are already enrolled")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return usagef("user needs a subcommand: add, passwd, key, del, list, unlock, import")
	}
	sub, rest := pos[0], pos[1:]
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	if err := checkUserFlags(sub, given); err != nil {
		return err
	}
	switch sub {
	case "list":
		if len(rest) != 0 {
			return usagef("user list takes no name")
		}
		return userList(*usersPath, *stateDir, stdout)
	case "import":
		if len(rest) != 1 {
			return usagef("user import needs one FILE, or - for stdin (a JSON object {\"userid\": [\"credential\", \"key\"], ...})")
		}
		imp.file, imp.usersPath, imp.stateDir = rest[0], *usersPath, *stateDir
		return userImport(imp, stdin, stderr)
	}
	if len(rest) != 1 {
		return usagef("user %s needs one NAME", sub)
	}
	name, err := wire.NormalizeUserID(rest[0])
	if err != nil {
		return usagef("NAME: %v", err)
	}
	if given["credential"] {
		if err := userstore.ValidCredential(*cred); err != nil {
			return usagef("--credential: %v", err)
		}
	}
	if given["key"] {
		if err := userstore.ValidKey(*key); err != nil {
			return usagef("--key: %v (remove a key with `user key NAME --no-key`)", err)
		}
	}
	switch sub {
	case "add", "passwd":
		return userSetPasscode(sub, name, *cred, keyChange{set: given["key"], key: *key}, *usersPath, *stateDir, stdin, stderr)
	case "key":
		if given["key"] == *noKey {
			return usagef("user key needs either --key STRING or --no-key")
		}
		return userSetKey(name, *key, *usersPath, stderr)
	case "del":
		err = userstore.Edit(*usersPath, func(users map[string]userstore.User) error {
			if _, ok := users[name]; !ok {
				return fmt.Errorf("no user %s in %s", name, *usersPath)
			}
			delete(users, name)
			return nil
		})
		if err == nil {
			fmt.Fprintf(stderr, "deleted user %s; %s\n", name, reloadHint)
		}
		return err
	case "unlock":
		err = userstore.Edit(*usersPath, func(users map[string]userstore.User) error {
			u, ok := users[name]
			if !ok {
				return fmt.Errorf("no user %s in %s", name, *usersPath)
			}
			u.Unlocked = time.Now()
			users[name] = u
			return nil
		})
		if err == nil {
			fmt.Fprintf(stderr, "unlocked user %s; %s\n", name, reloadHint)
		}
		return err
	}
	return usagef("unknown user subcommand %q", sub)
}

// userFlags lists the flags each subcommand takes besides --users and
// --state-dir.
var userFlags = map[string][]string{
	"add":    {"credential", "key"},
	"passwd": {"credential", "key"},
	"key":    {"key", "no-key"},
	"import": {"skip-bad", "replace"},
}

func checkUserFlags(sub string, given map[string]bool) error {
	for f := range given {
		if f == "users" || f == "state-dir" {
			continue
		}
		ok := false
		for _, allowed := range userFlags[sub] {
			ok = ok || f == allowed
		}
		if !ok {
			return usagef("--%s does not go with user %s", f, sub)
		}
	}
	return nil
}

// keyChange is the --key of add and passwd: set says whether it was given.
type keyChange struct {
	set bool
	key string
}

func userSetPasscode(sub, name, cred string, key keyChange, usersPath, stateDir string, stdin *os.File, stderr io.Writer) error {
	if cred == "" {
		digits, err := passprompt.Read(stdin, stderr, "Passcode for "+name+" (keypad digits): ")
		if err != nil {
			return err
		}
		if !wire.ValidPasscode(digits) {
			return fmt.Errorf("a passcode is 1 to %d digits 0-9", wire.MaxPasscode)
		}
		if fi, err := stdin.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			again, err := passprompt.Read(stdin, stderr, "Again: ")
			if err != nil {
				return err
			}
			if again != digits {
				return fmt.Errorf("the two passcodes differ; nothing changed")
			}
		}
		cred = credential.FromDigits(name, []byte(digits))
	}
	if err := os.MkdirAll(stateDir, 0o700); err != nil {
		return fmt.Errorf("state directory: %w", err)
	}
	pepper, err := userstore.LoadOrCreatePepper(stateDir)
	if err != nil {
		return err
	}
	h := userstore.NewHasher(pepper, userstore.DefaultParams, 1)
	phc, err := h.Hash(context.Background(), cred)
	if err != nil {
		return err
	}
	err = userstore.Edit(usersPath, func(users map[string]userstore.User) error {
		u, exists := users[name]
		switch {
		case sub == "add" && exists:
			return fmt.Errorf("user %s already exists; change the passcode with `pi2pi-server user passwd %s`", name, name)
		case sub == "passwd" && !exists:
			return fmt.Errorf("no user %s; add it with `pi2pi-server user add %s`", name, name)
		}
		u.Name, u.Hash = name, phc
		if key.set {
			u.Key = key.key
		}
		if exists {
			// A new passcode also clears the failure counter.
			u.Unlocked = time.Now()
		}
		users[name] = u
		return nil
	})
	if err != nil {
		return err
	}
	verb := "added"
	if sub == "passwd" {
		verb = "changed the passcode of"
	}
	fmt.Fprintf(stderr, "%s user %s; %s\n", verb, name, reloadHint)
	return nil
}

func userList(usersPath, stateDir string, stdout io.Writer) error {
	users, err := userstore.ReadFile(usersPath)
	if err != nil {
		return err
	}
	accounts, err := guard.ReadFile(filepath.Join(stateDir, countersFile))
	if err != nil {
		return err
	}
	names := make([]string, 0, len(users))
	for n := range users {
		names = append(names, n)
	}
	sort.Strings(names)
	now := time.Now()
	for _, n := range names {
		// The key string itself is never shown: only whether there is one.
		key := "key not set"
		if users[n].Key != "" {
			key = "key set"
		}
		fmt.Fprintf(stdout, "%s\t%s\t%s\n", n, guard.Status(accounts[n], guard.DefaultPolicy, users[n].Unlocked, now), key)
	}
	return nil
}

// userSetKey sets (key != "") or removes (key == "") a user's key string.
func userSetKey(name, key, usersPath string, stderr io.Writer) error {
	err := userstore.Edit(usersPath, func(users map[string]userstore.User) error {
		u, ok := users[name]
		if !ok {
			return fmt.Errorf("no user %s in %s; add it with `pi2pi-server user add %s --key ...`", name, usersPath, name)
		}
		u.Key = key
		users[name] = u
		return nil
	})
	if err != nil {
		return err
	}
	verb := "set the key of"
	if key == "" {
		verb = "removed the key of"
	}
	fmt.Fprintf(stderr, "%s user %s; %s\n", verb, name, reloadHint)
	return nil
}
