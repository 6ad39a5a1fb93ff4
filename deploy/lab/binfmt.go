package lab

import (
	"fmt"
	"os"
	"strings"
	"syscall"
)

const binfmtDir = "/proc/sys/fs/binfmt_misc"

// EnableArm64 makes arm64 programs run on this host through qemu-user-static
// and binfmt_misc. The registration has the flags F (the interpreter is
// opened once, at registration, so it also works inside the machines'
// roots, which do not have it) and C (set-user-ID programs such as sudo
// get their credentials, which also needs O). It mounts binfmt_misc when
// needed and registers qemu-aarch64 from qemu-user-static's binfmt.d file,
// with those flags, replacing a registration without them. The
// registration is the kernel's, for the whole host; it stays after the
// run, as the package's own would.
func EnableArm64() error {
	if _, err := os.Stat(binfmtDir + "/register"); err != nil {
		if err := syscall.Mount("binfmt_misc", binfmtDir, "binfmt_misc", 0, ""); err != nil {
			return fmt.Errorf("mounting binfmt_misc: %w", err)
		}
	}
	const entry = binfmtDir + "/qemu-aarch64"
	if cur, err := os.ReadFile(entry); err == nil {
		if strings.Contains(string(cur), "enabled") && hasFlags(string(cur), "OCF") {
			return nil
		}
		if err := os.WriteFile(entry, []byte("-1"), 0); err != nil {
			return fmt.Errorf("removing the qemu-aarch64 registration without the flags C and F: %w", err)
		}
	}
	const conf = "/usr/lib/binfmt.d/qemu-aarch64.conf"
	b, err := os.ReadFile(conf)
	if err != nil {
		return fmt.Errorf("%w (apt-get install qemu-user-static)", err)
	}
	line := strings.TrimSpace(string(b))
	i := strings.LastIndexByte(line, ':')
	if i < 0 || !strings.HasPrefix(line, ":qemu-aarch64:") {
		return fmt.Errorf("%s: not a binfmt_misc line: %q", conf, line)
	}
	flags := line[i+1:]
	for _, f := range "OCF" {
		if !strings.ContainsRune(flags, f) {
			flags += string(f)
		}
	}
	if err := os.WriteFile(binfmtDir+"/register", []byte(line[:i+1]+flags), 0); err != nil {
		return fmt.Errorf("registering qemu-aarch64 with binfmt_misc: %w", err)
	}
	return nil
}

// hasFlags reports whether a binfmt_misc entry's "flags:" line has every
// flag in want.
func hasFlags(entry, want string) bool {
	for _, l := range strings.Split(entry, "\n") {
		if f, ok := strings.CutPrefix(l, "flags: "); ok {
			for _, w := range want {
				if !strings.ContainsRune(f, w) {
					return false
				}
			}
			return true
		}
	}
	return false
}
