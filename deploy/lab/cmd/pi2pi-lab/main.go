// Command pi2pi-lab brings up, for a person, the machines that the lab
// test uses: a pi2pi server and two terminals, ali and bianca, booted
// Debian bookworm under systemd-nspawn on a bridge of their own, with the
// packages installed and configured by the README's steps.
//
//	pi2pi-lab up DEBS_DIR    boot, install, print how to enter each machine
//	pi2pi-lab enter NAME     a login shell of user pi on NAME
//	pi2pi-lab down           power off and remove everything
//
// It needs root. make lab and make lab-down run it.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"

	"github.com/pi2pi/pi2pi/deploy/lab"
)

const (
	name  = "pi2pi-lab"
	dir   = "/var/lib/pi2pi-lab"
	state = "/run/pi2pi-lab.json"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "up":
		if len(os.Args) != 3 {
			usage()
		}
		err = up(os.Args[2])
	case "down":
		err = down()
	case "enter":
		if len(os.Args) != 3 {
			usage()
		}
		err = enter(os.Args[2])
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "pi2pi-lab:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: pi2pi-lab up DEBS_DIR | enter NAME | down")
	os.Exit(2)
}

func up(debs string) error {
	if os.Getuid() != 0 {
		return errors.New("the lab needs root (mounts, network namespaces, systemd-nspawn)")
	}
	if _, err := os.Stat(state); err == nil {
		return fmt.Errorf("a lab is already up (%s): make lab-down first", state)
	}
	ctx := context.Background()
	image, err := lab.Image(ctx, "amd64", os.Stderr)
	if err != nil {
		return err
	}
	var specs []lab.Spec
	for _, n := range []string{"server", "ali", "bianca"} {
		specs = append(specs, lab.Spec{Name: n, Image: image})
	}
	l, err := lab.Up(ctx, name, filepath.Join(dir, "machines"), specs)
	if err != nil {
		return err
	}
	if err := l.Save(state); err != nil {
		l.Down()
		return err
	}
	if err := lab.Setup(ctx, l, debs, os.Stderr); err != nil {
		return fmt.Errorf("%w\n(the machines are still up: make lab-down)", err)
	}
	self, _ := filepath.Abs(os.Args[0])
	fmt.Printf("\nThe lab is up: ")
	for _, m := range l.Machines {
		fmt.Printf("%s %s  ", m.Name, m.IP)
	}
	fmt.Printf("\nUsers ali and bianca, passcode %s, keypad=console. Enter a machine as user %s:\n", lab.Passcode, lab.User)
	for _, m := range l.Machines {
		fmt.Printf("  sudo %s enter %s\n", self, m.Name)
	}
	fmt.Printf("There: pi2pictl login (ali, then %s), pi2pictl chat bianca / pi2pictl wait, journalctl -u pi2pid.\n", lab.Passcode)
	fmt.Println("Stop it all: make lab-down")
	return nil
}

func load() (*lab.Lab, error) {
	l, err := lab.Load(state)
	if errors.Is(err, os.ErrNotExist) {
		return nil, errors.New("no lab is up (make lab)")
	}
	return l, err
}

func enter(machine string) error {
	l, err := load()
	if err != nil {
		return err
	}
	m := l.Machine(machine)
	if m == nil {
		return fmt.Errorf("no machine %q in the lab", machine)
	}
	leader := m.Leader()
	if leader == 0 {
		return fmt.Errorf("%s is not running", machine)
	}
	nsenter, err := exec.LookPath("nsenter")
	if err != nil {
		return err
	}
	term := os.Getenv("TERM")
	if term == "" {
		term = "xterm"
	}
	return syscall.Exec(nsenter, []string{"nsenter", "-t", strconv.Itoa(leader), "-a", "--",
		"/usr/bin/env", "-i", "TERM=" + term, "PATH=/usr/sbin:/usr/bin:/sbin:/bin",
		"/usr/sbin/runuser", "-l", lab.User}, os.Environ())
}

func down() error {
	l, err := load()
	if err != nil {
		return err
	}
	err = l.Down()
	os.Remove(state)
	os.RemoveAll(filepath.Join(dir, "machines"))
	return err
}
