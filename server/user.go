package main

import (
	"context"
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
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return usagef("user needs a subcommand: add, passwd, del, list, unlock")
	}
	sub, rest := pos[0], pos[1:]
	if sub == "list" {
		if len(rest) != 0 {
			return usagef("user list takes no name")
		}
		return userList(*usersPath, *stateDir, stdout)
	}
	if len(rest) != 1 {
		return usagef("user %s needs one NAME", sub)
	}
	name, err := wire.NormalizeUserID(rest[0])
	if err != nil {
		return usagef("NAME: %v", err)
	}
	if *cred != "" && sub != "add" && sub != "passwd" {
		return usagef("--credential only goes with add and passwd")
	}
	switch sub {
	case "add", "passwd":
		return userSetPasscode(sub, name, *cred, *usersPath, *stateDir, stdin, stderr)
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

func userSetPasscode(sub, name, cred, usersPath, stateDir string, stdin *os.File, stderr io.Writer) error {
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
	accounts, _, err := guard.ReadFile(filepath.Join(stateDir, countersFile))
	if err != nil {
		return err
	}
	names := make([]string, 0, len(users))
	for n := range users {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(stdout, "%s\t%s\n", n, guard.Status(accounts[n], guard.DefaultPolicy, users[n].Unlocked))
	}
	return nil
}
