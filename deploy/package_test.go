package deploy_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pi2pi/pi2pi/deploy"
)

// nfpm builds nfpm once into the user's cache (the same place
// build-deb.sh uses), so repeated runs do not rebuild it.
func nfpm(t *testing.T) string {
	t.Helper()
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = filepath.Join(work, "cache")
	}
	dir := filepath.Join(cache, "pi2pi", "nfpm-v2.45.2")
	bin := filepath.Join(dir, "nfpm")
	if _, err := os.Stat(bin); err == nil {
		return bin
	}
	cmd := exec.Command("go", "install", "github.com/goreleaser/nfpm/v2/cmd/nfpm@v2.45.2")
	cmd.Env = append(os.Environ(), "GOBIN="+dir, "GOFLAGS=-mod=mod")
	cmd.Dir = work
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Skipf("cannot build nfpm v2.45.2 (needs the Go module proxy): %v\n%s", err, out)
	}
	return bin
}

// TestDebPackages builds the packages with build-deb.sh, checks them with
// lintian, and installs them with `dpkg --root` into an empty directory.
// dpkg would chroot into that root to run the maintainer scripts, which
// needs a whole Debian there; --force-script-chrootless runs them on this
// machine with DPKG_ROOT set instead, as the scripts support (they are
// the debhelper snippets, which honour DPKG_ROOT). The test then looks at
// the files, the users and groups that systemd-sysusers made, the enabled
// sockets, and removes and purges again.
func TestDebPackages(t *testing.T) {
	needRoot(t, "dpkg --root installs files owned by other users")
	need(t, "dpkg", "dpkg-deb", "lintian", "systemd-sysusers", "systemd-tmpfiles", "deb-systemd-helper")
	binaries(t) // skip while the programs do not build
	dist := filepath.Join(work, "dist")
	script := filepath.Join(deploy.Dir(), "build-deb.sh")
	out := run(t, repoRoot(), []string{"NFPM=" + nfpm(t), "DIST=" + dist, "VERSION=1.2.3"}, "sh", script, "amd64", "armhf")
	t.Logf("built:\n%s", out)
	debs, _ := filepath.Glob(filepath.Join(dist, "*.deb"))
	want := []string{"pi2pi-server_1.2.3_amd64.deb", "pi2pi-terminal_1.2.3_amd64.deb", "pi2pi-terminal_1.2.3_armhf.deb"}
	if len(debs) != len(want) {
		t.Fatalf("build-deb.sh made %v, want %v", debs, want)
	}
	for i, d := range debs {
		if filepath.Base(d) != want[i] {
			t.Fatalf("build-deb.sh made %v, want %v", debs, want)
		}
	}

	t.Run("lintian", func(t *testing.T) {
		out, err := runErr("", nil, "lintian", append([]string{"--fail-on", "error"}, debs...)...)
		t.Logf("lintian:\n%s", out)
		if err != nil {
			t.Fatalf("lintian reports errors: %v", err)
		}
		for _, line := range strings.Split(out, "\n") {
			if strings.HasPrefix(line, "W: ") || strings.HasPrefix(line, "E: ") {
				t.Errorf("lintian: %s", line)
			}
		}
	})

	t.Run("armhf binaries", func(t *testing.T) {
		out := run(t, "", nil, "dpkg-deb", "--field", debs[2], "Architecture")
		if strings.TrimSpace(out) != "armhf" {
			t.Fatalf("Architecture %q", out)
		}
		x := t.TempDir()
		run(t, "", nil, "dpkg-deb", "-x", debs[2], x)
		b, err := os.ReadFile(filepath.Join(x, "usr/sbin/pi2pid"))
		if err != nil {
			t.Fatal(err)
		}
		// ELF header: 32-bit (EI_CLASS 1), machine EM_ARM (40).
		if len(b) < 20 || b[4] != 1 || b[18] != 40 {
			t.Fatalf("usr/sbin/pi2pid in the armhf package is not a 32-bit ARM ELF")
		}
	})

	t.Run("install into a root", func(t *testing.T) {
		root := t.TempDir()
		for _, d := range []string{"var/lib/dpkg/info", "var/lib/dpkg/updates", "etc"} {
			if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		for f, s := range map[string]string{
			"var/lib/dpkg/status": "",
			"etc/passwd":          "root:x:0:0:root:/root:/bin/sh\n",
			"etc/group":           "root:x:0:\n",
		} {
			if err := os.WriteFile(filepath.Join(root, f), []byte(s), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		dpkg := func(args ...string) string {
			// --force-depends: the empty root has no systemd package.
			return run(t, "", nil, "dpkg", append([]string{"--root=" + root, "--force-script-chrootless", "--force-depends", "--log=/dev/null"}, args...)...)
		}
		installOut := dpkg("--install", debs[0], debs[1])
		// Trust on first use: the terminal's package says how to pin the
		// server's key (issue 11).
		if !strings.Contains(installOut, "the server's key is not pinned") || !strings.Contains(installOut, "pi2pi-server fingerprint") {
			t.Errorf("installing pi2pi-terminal did not say how to pin the server's key:\n%s", installOut)
		}

		for _, f := range []string{
			"usr/sbin/pi2pid", "usr/bin/pi2pictl", "usr/sbin/pi2pi-server",
			"usr/lib/systemd/system/pi2pid.service", "usr/lib/systemd/system/pi2pid.socket",
			"usr/lib/systemd/system/pi2pid-control.socket", "usr/lib/systemd/system/pi2pi-server.service",
			"usr/lib/systemd/system/pi2pi-server.socket", "usr/lib/sysusers.d/pi2pi.conf",
			"usr/lib/tmpfiles.d/pi2pi.conf", "etc/pi2pi/pi2pid.conf", "etc/pi2pi/pi2pi-server.conf",
			"usr/share/man/man8/pi2pid.8.gz", "usr/share/man/man1/pi2pictl.1.gz", "usr/share/man/man8/pi2pi-server.8.gz",
			"usr/share/doc/pi2pi-terminal/copyright", "usr/share/doc/pi2pi-terminal/examples/gpiochip.conf",
		} {
			if _, err := os.Stat(filepath.Join(root, f)); err != nil {
				t.Errorf("not installed: /%s", f)
			}
		}
		for pkg, conffile := range map[string]string{"pi2pi-terminal": "/etc/pi2pi/pi2pid.conf", "pi2pi-server": "/etc/pi2pi/pi2pi-server.conf"} {
			out := run(t, "", nil, "dpkg-query", "--admindir="+filepath.Join(root, "var/lib/dpkg"), "--showformat=${Conffiles}", "--show", pkg)
			if !strings.Contains(out, conffile) {
				t.Errorf("%s: conffiles %q, want %s", pkg, out, conffile)
			}
		}
		passwd := readFile(t, filepath.Join(root, "etc/passwd"))
		group := readFile(t, filepath.Join(root, "etc/group"))
		if !strings.Contains(passwd, "pi2pid:x:") || !strings.Contains(passwd, ":/var/lib/pi2pid:/usr/sbin/nologin") {
			t.Errorf("no system user pi2pid:\n%s", passwd)
		}
		for _, g := range []string{"pi2pi:x:", "pi2pi-userdb:x:"} {
			if !strings.Contains(group, g) {
				t.Errorf("no group %s in:\n%s", g, group)
			}
		}
		if !strings.Contains(group, "\ngpio:x:") || !strings.Contains(group[strings.Index(group, "\ngpio:x:"):], "pi2pid\n") {
			t.Errorf("pi2pid is not in group gpio:\n%s", group)
		}
		for _, u := range []string{"pi2pid.socket", "pi2pid-control.socket", "pi2pi-server.socket"} {
			if _, err := os.Lstat(filepath.Join(root, "etc/systemd/system/sockets.target.wants", u)); err != nil {
				t.Errorf("%s is not enabled: %v", u, err)
			}
		}
		if _, err := os.Lstat(filepath.Join(root, "etc/systemd/system/multi-user.target.wants/pi2pid.service")); err == nil {
			t.Errorf("pi2pid.service is enabled before it is configured")
		}
		if fi, err := os.Stat(filepath.Join(root, "var/lib/pi2pid")); err != nil || fi.Mode().Perm() != 0o700 {
			t.Errorf("/var/lib/pi2pid: %v, want mode 0700 (tmpfiles)", err)
		}
		if fi, err := os.Stat(filepath.Join(root, "etc/pi2pi")); err != nil || fi.Mode()&os.ModeSetgid == 0 {
			t.Errorf("/etc/pi2pi is not set-group-ID (tmpfiles.d/pi2pi-server.conf): %v", err)
		}

		// Remove keeps the conffiles; purge removes them and the state.
		if err := os.WriteFile(filepath.Join(root, "var/lib/pi2pid/identity.key"), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
		dpkg("--remove", "pi2pi-terminal", "pi2pi-server")
		if _, err := os.Stat(filepath.Join(root, "etc/pi2pi/pi2pid.conf")); err != nil {
			t.Errorf("remove deleted the conffile: %v", err)
		}
		if _, err := os.Stat(filepath.Join(root, "usr/sbin/pi2pid")); err == nil {
			t.Errorf("remove left /usr/sbin/pi2pid")
		}
		dpkg("--purge", "pi2pi-terminal", "pi2pi-server")
		for _, f := range []string{"etc/pi2pi", "var/lib/pi2pid", "etc/systemd/system/sockets.target.wants/pi2pid.socket"} {
			if _, err := os.Lstat(filepath.Join(root, f)); err == nil {
				t.Errorf("purge left /%s", f)
			}
		}
	})
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
