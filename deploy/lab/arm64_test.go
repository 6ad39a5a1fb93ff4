package lab

import (
	"os"
	"os/exec"
	"testing"
	"time"
)

// TestLabArm64 boots ali as an arm64 Debian under qemu-user emulation, with
// the arm64 pi2pi-terminal package, against the amd64 server and bianca:
// the README's install steps, login, a chat, a reinstall and a reboot.
// Building the arm64 root takes minutes and every program runs emulated,
// so it runs only when asked: `make lab-arm64` (PI2PI_LAB_ARM64=1).
func TestLabArm64(t *testing.T) {
	if os.Getenv("PI2PI_LAB_ARM64") == "" {
		t.Skip("the arm64 lab runs with make lab-arm64 (PI2PI_LAB_ARM64=1): minutes of qemu emulation")
	}
	needLab(t)
	if _, err := exec.LookPath("qemu-aarch64-static"); err != nil {
		t.Skip("the arm64 lab needs qemu-user-static (apt-get install qemu-user-static)")
	}
	if err := EnableArm64(); err != nil {
		t.Fatal(err)
	}
	w := newWorld(t, "arm64", 10*time.Minute)
	if out := sh(t, w.ali, "", "dpkg --print-architecture", ""); out != "arm64\n" {
		t.Fatalf("ali's architecture is %q, want arm64", out)
	}
	fp := w.setUpServer(t)
	for _, m := range []*Machine{w.ali, w.bianca} {
		w.setUpTerminal(t, m, fp)
		w.login(t, m, m.Name)
	}
	w.troubleshooting(t)
	w.chat(t, "arm64 calls amd64")
	w.reinstallsKeepThePort(t, w.ali, 1)
	w.rebootKeepsIdentity(t, w.ali)
	w.chat(t, "after the reboot")
}
