package deploy_test

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// target is one GOOS/GOARCH(/GOARM) that pi2pi is built for.
type target struct {
	goos, goarch, goarm string
	pkgs                []string
}

func (tg target) String() string {
	s := tg.goos + "/" + tg.goarch
	if tg.goarm != "" {
		s += "v" + tg.goarm
	}
	return s
}

func (tg target) env() []string {
	return []string{"CGO_ENABLED=0", "GOOS=" + tg.goos, "GOARCH=" + tg.goarch, "GOARM=" + tg.goarm}
}

var allPrograms = []string{"./server/cmd/pi2pi-server", "./daemon/cmd/pi2pid", "./ctl/cmd/pi2pictl"}

// TestCrossBuild builds every program for every target: the three for
// Linux on amd64, arm64 and 32-bit ARM (v6 for the Pi Zero and 1, v7),
// and the server also for Windows and macOS.
func TestCrossBuild(t *testing.T) {
	binaries(t) // skip while the programs do not build
	targets := []target{
		{"linux", "amd64", "", allPrograms},
		{"linux", "arm64", "", allPrograms},
		{"linux", "arm", "6", allPrograms},
		{"linux", "arm", "7", allPrograms},
		{"windows", "amd64", "", []string{"./server/cmd/pi2pi-server"}},
		{"darwin", "arm64", "", []string{"./server/cmd/pi2pi-server"}},
	}
	for _, tg := range targets {
		t.Run(strings.ReplaceAll(tg.String(), "/", "_"), func(t *testing.T) {
			out := filepath.Join(work, "cross", strings.ReplaceAll(tg.String(), "/", "_"))
			if err := os.MkdirAll(out, 0o755); err != nil {
				t.Fatal(err)
			}
			run(t, repoRoot(), tg.env(), "go", append([]string{"build", "-trimpath", "-o", out + "/"}, tg.pkgs...)...)
			entries, _ := os.ReadDir(out)
			if len(entries) != len(tg.pkgs) {
				t.Fatalf("built %d programs, want %d", len(entries), len(tg.pkgs))
			}
		})
	}
}

// armUnitTests are the packages without network or hardware whose unit
// tests must pass on the Pi's architectures.
var armUnitTests = []string{"./internal/wire", "./internal/credential", "./daemon/keypad", "./daemon/terminal"}

// TestARMUnitTestsUnderQemu compiles the unit tests of the non-network
// packages for 32-bit ARM (GOARM=6, the Pi Zero and 1) and arm64, and runs
// them under Debian's qemu-user (qemu-arm, qemu-aarch64 called directly,
// so binfmt_misc is not needed).
func TestARMUnitTestsUnderQemu(t *testing.T) {
	if runtime.GOARCH != "amd64" && runtime.GOARCH != "arm64" {
		t.Skipf("qemu-user test written for an amd64 or arm64 host, not %s", runtime.GOARCH)
	}
	for _, tc := range []struct {
		qemu string
		tg   target
	}{
		{"qemu-arm", target{goos: "linux", goarch: "arm", goarm: "6"}},
		{"qemu-aarch64", target{goos: "linux", goarch: "arm64"}},
	} {
		t.Run(tc.tg.goarch, func(t *testing.T) {
			need(t, tc.qemu)
			out := filepath.Join(work, "qemu", tc.tg.goarch)
			if err := os.MkdirAll(out, 0o755); err != nil {
				t.Fatal(err)
			}
			buildOut, err := runErr(repoRoot(), tc.tg.env(), "go", append([]string{"test", "-c", "-o", out + "/"}, armUnitTests...)...)
			if err != nil {
				t.Fatalf("compiling the unit tests for %s: %v\n%s", tc.tg, err, buildOut)
			}
			for _, pkg := range armUnitTests {
				bin := filepath.Join(out, filepath.Base(pkg)+".test")
				if _, err := os.Stat(bin); err != nil {
					t.Errorf("%s: no test binary %s (package without tests?)", pkg, bin)
					continue
				}
				// Run in the package's directory, where go test runs it, for
				// testdata.
				res, err := runErr(filepath.Join(repoRoot(), pkg), nil, tc.qemu, bin, "-test.short", "-test.timeout=120s")
				if err != nil {
					t.Errorf("%s under %s: %v\n%s", pkg, tc.qemu, err, res)
					continue
				}
				t.Logf("%s under %s: %s", pkg, tc.qemu, lastLine(res))
			}
		})
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return fmt.Sprint(lines[len(lines)-1])
}
