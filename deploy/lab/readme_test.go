package lab

import (
	"path/filepath"
	"slices"
	"testing"
)

// TestREADMEIsTheLab: every command of the README's install, upgrade and
// troubleshooting blocks is a step the lab runs (or is listed in NotRun
// with the reason), and every step is in the README as written.
func TestREADMEIsTheLab(t *testing.T) {
	cmds, err := READMECommands(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cmds {
		if _, skip := NotRun[c]; !skip && !slices.Contains(Steps, c) {
			t.Errorf("the README's %q is not run by the lab: add it to lab.Steps and to the lab test, or to NotRun with the reason", c)
		}
	}
	for _, s := range append(slices.Clone(Steps), keys(NotRun)...) {
		if !slices.Contains(cmds, s) {
			t.Errorf("the lab runs %q, which is not in the README's install or troubleshooting steps", s)
		}
	}
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestAdapt(t *testing.T) {
	for in, want := range map[string]string{
		TerminalInstall:   "sudo apt install ./pi2pi-terminal_*_arm64.deb",
		ServerInstall:     "sudo apt install ./pi2pi-server_*_arm64.deb",
		Probe:             "sudo pi2pi-server probe 10.85.0.1:8082",
		TerminalConfigure: "SUDO_EDITOR=lab-edit sudoedit /etc/pi2pi/pi2pid.conf",
		Login:             Login,
	} {
		if got := Adapt(in, "arm64", "10.85.0.1"); got != want {
			t.Errorf("Adapt(%q) = %q, want %q", in, got, want)
		}
	}
}
