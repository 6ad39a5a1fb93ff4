package deploy_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/pi2pi/pi2pi/deploy"
)

// work is a directory shared by the tests of this package (built
// binaries, the nfpm binary), removed after the run.
var work string

func TestMain(m *testing.M) {
	var err error
	work, err = os.MkdirTemp("", "pi2pi-deploy-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(work)
	os.Exit(code)
}

// repoRoot is the top of the source tree (deploy/..).
func repoRoot() string { return filepath.Dir(deploy.Dir()) }

var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

// binaries builds pi2pi-server, pi2pid and pi2pictl for this machine once
// and returns their directory. The tests that need them skip, saying why,
// while the programs do not build yet.
func binaries(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir := filepath.Join(work, "bin")
		for name, pkg := range map[string]string{"pi2pi-server": "./server/cmd/pi2pi-server", "pi2pid": "./daemon/cmd/pi2pid", "pi2pictl": "./ctl/cmd/pi2pictl"} {
			cmd := exec.Command("go", "build", "-o", filepath.Join(dir, name), pkg)
			cmd.Dir = repoRoot()
			if out, err := cmd.CombinedOutput(); err != nil {
				buildErr = fmt.Errorf("go build %s: %v\n%s", pkg, err, out)
				return
			}
		}
		binDir = dir
	})
	if buildErr != nil {
		t.Skipf("the programs do not build yet, so this test cannot run: %v", buildErr)
	}
	return binDir
}

// need skips the test unless every tool is on PATH.
func need(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed (apt-get install %s)", tool, aptPackage(tool))
		}
	}
}

// needRoot skips the test when not running as root.
func needRoot(t *testing.T, why string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skipf("needs root: %s (CI runs as root)", why)
	}
}

func aptPackage(tool string) string {
	switch tool {
	case "systemd-analyze", "systemctl", "systemd-sysusers", "systemd-tmpfiles":
		return "systemd"
	case "qemu-arm", "qemu-aarch64":
		return "qemu-user"
	case "unshare":
		return "util-linux"
	case "dpkg", "dpkg-deb":
		return "dpkg"
	}
	return tool
}

// run runs a command and fails the test with its output when it fails.
func run(t *testing.T, dir string, env []string, name string, args ...string) string {
	t.Helper()
	out, err := runErr(dir, env, name, args...)
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return out
}

func runErr(dir string, env []string, name string, args ...string) (string, error) {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	var b bytes.Buffer
	cmd.Stdout, cmd.Stderr = &b, &b
	err := cmd.Run()
	return b.String(), err
}
