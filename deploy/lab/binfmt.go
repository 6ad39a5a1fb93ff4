package lab

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
)

const binfmtDir = "/proc/sys/fs/binfmt_misc"

// EnableArm64 makes arm64 programs run on this host through qemu-user-static
// and binfmt_misc with the F flag (the interpreter is opened once, at
// registration, so it also works inside the machines' roots, which do not
// have it). It mounts binfmt_misc when needed and registers qemu-aarch64
// from qemu-user-static's binfmt.d file. The registration is the kernel's,
// for the whole host; it stays after the run, as the package's own would.
func EnableArm64() error {
	if _, err := os.Stat(binfmtDir + "/register"); err != nil {
		if err := syscall.Mount("binfmt_misc", binfmtDir, "binfmt_misc", 0, ""); err != nil {
			return fmt.Errorf("mounting binfmt_misc: %w", err)
		}
	}
	entry, err := os.ReadFile(binfmtDir + "/qemu-aarch64")
	if err == nil {
		if !strings.Contains(string(entry), "enabled") || !strings.Contains(string(entry), "flags: ") ||
			!strings.Contains(strings.SplitN(strings.SplitAfter(string(entry), "flags: ")[1], "\n", 2)[0], "F") {
			return errors.New("qemu-aarch64 is registered in binfmt_misc but disabled or without the F flag; remove it (echo -1 >" + binfmtDir + "/qemu-aarch64) and run again")
		}
		return nil
	}
	const conf = "/usr/lib/binfmt.d/qemu-aarch64.conf"
	line, err := os.ReadFile(conf)
	if err != nil {
		return fmt.Errorf("%w (apt-get install qemu-user-static)", err)
	}
	if !strings.Contains(string(line), ":F") && !strings.HasSuffix(strings.TrimSpace(string(line)), "F") {
		return fmt.Errorf("%s does not ask for the F flag", conf)
	}
	if out, err := exec.Command("/lib/systemd/systemd-binfmt", conf).CombinedOutput(); err != nil {
		return fmt.Errorf("systemd-binfmt %s: %v: %s", conf, err, out)
	}
	return nil
}
