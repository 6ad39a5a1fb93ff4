// Package lab boots Debian bookworm machines with systemd as PID 1 under
// systemd-nspawn, joined by a bridge in network namespaces of their own,
// so that tests (and `make lab`) install the project's .debs and follow
// the README's install steps on real systems: a pi2pi server and two
// terminals.
//
// The root file system comes from mmdebstrap and is cached under
// /var/cache/pi2pi-lab, keyed by a hash of everything that goes into it;
// each machine runs on an overlay of it, so a machine costs a mount and a
// boot (about 2 s).
package lab

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
)

// CacheDir holds the cached root file systems.
const CacheDir = "/var/cache/pi2pi-lab"

// Suite is the Debian release of the lab machines.
const Suite = "bookworm"

// Packages are installed on top of mmdebstrap's minbase variant.
var Packages = []string{
	"systemd", "systemd-sysv", "dbus", "sudo", "adduser", "iproute2", "procps",
	"bash-completion", "less",
}

// User is the unprivileged account on every machine (password-less sudo),
// the "$USER" of the README's steps.
const User = "pi"

// EditFile is what the lab's SUDO_EDITOR appends to the file being edited,
// so that the README's `sudoedit FILE` runs as written.
const EditFile = "/etc/pi2pi-lab.edit"

// hooks customise the root; they are part of the cache key.
var hooks = []string{
	`chroot "$1" useradd --create-home --shell /bin/bash ` + User,
	`echo "` + User + ` ALL=(ALL:ALL) NOPASSWD: ALL" >"$1/etc/sudoers.d/` + User + `" && chmod 0440 "$1/etc/sudoers.d/` + User + `"`,
	`printf '#!/bin/sh\ncat ` + EditFile + ` >>"$1"\n' >"$1/usr/local/bin/lab-edit" && chmod 0755 "$1/usr/local/bin/lab-edit"`,
	`rm -f "$1/etc/machine-id" "$1/var/lib/dbus/machine-id" && : >"$1/etc/machine-id"`,
}

// Image returns the root file system for arch (a Debian architecture:
// amd64, arm64), building it with mmdebstrap when it is not cached yet.
// Progress goes to log.
func Image(ctx context.Context, arch string, log io.Writer) (string, error) {
	key := sha256.Sum256([]byte(strings.Join([]string{"v1", Suite, arch, strings.Join(Packages, ","), strings.Join(hooks, "\n")}, "\x00")))
	dir := filepath.Join(CacheDir, fmt.Sprintf("%s-%s-%s", Suite, arch, hex.EncodeToString(key[:6])))
	root := filepath.Join(dir, "root")
	if err := os.MkdirAll(CacheDir, 0o755); err != nil {
		return "", err
	}
	// One build of this root at a time, also across processes.
	lock, err := os.OpenFile(dir+".lock", os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return "", err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return "", err
	}
	if _, err := os.Stat(filepath.Join(dir, "done")); err == nil {
		return root, nil
	}
	os.RemoveAll(dir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	args := []string{"--variant=minbase", "--arch=" + arch, "--include=" + strings.Join(Packages, ",")}
	for _, h := range hooks {
		args = append(args, "--customize-hook="+h)
	}
	args = append(args, Suite, root)
	fmt.Fprintf(log, "lab: building the %s %s root with mmdebstrap into %s (cached for later runs)\n", Suite, arch, dir)
	cmd := exec.CommandContext(ctx, "mmdebstrap", args...)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Run(); err != nil {
		os.RemoveAll(dir)
		return "", fmt.Errorf("mmdebstrap %s: %w", strings.Join(args, " "), err)
	}
	if err := os.WriteFile(filepath.Join(dir, "done"), nil, 0o644); err != nil {
		return "", err
	}
	return root, nil
}
