package deploy_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pi2pi/pi2pi/deploy"
)

// TestBashCompletion runs the packaged completion function in bash the way
// readline calls it, with a history file like the shell's.
func TestBashCompletion(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("bash is not installed")
	}
	state := t.TempDir()
	if err := os.MkdirAll(filepath.Join(state, "pi2pi"), 0o700); err != nil {
		t.Fatal(err)
	}
	hist := "ali\n/status\nbianca\n/chat carol\n/verify dora\nbianca\n/help\nnot a user\n"
	if err := os.WriteFile(filepath.Join(state, "pi2pi", "history"), []byte(hist), 0o600); err != nil {
		t.Fatal(err)
	}
	complete := func(line, withBashCompletion string) string {
		t.Helper()
		script := `source "$1"; read -ra COMP_WORDS <<<"$2"; [[ $2 == *' ' ]] && COMP_WORDS+=("");
COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); COMP_LINE=$2; COMP_POINT=${#2};
[[ -r /usr/share/bash-completion/bash_completion && -n $3 ]] && source /usr/share/bash-completion/bash_completion
_pi2pictl; echo "${COMPREPLY[*]}"`
		cmd := exec.Command(bash, "--norc", "-c", script, "bash", filepath.Join(deploy.Dir(), "completion", "pi2pictl"), line, withBashCompletion)
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "XDG_STATE_HOME=" + state}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("completing %q: %v\n%s", line, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	for line, want := range map[string]string{
		"pi2pictl ":                  "login chat wait status verify logout help",
		"pi2pictl ch":                "chat",
		"pi2pictl --":                "--socket --help --version",
		"pi2pictl chat ":             "bianca dora carol ali",
		"pi2pictl --socket x chat b": "bianca",
		"pi2pictl status --":         "--socket --help --json",
		"pi2pictl chat bianca ":      "",
		"pi2pictl help l":            "login logout",
		"pi2pictl wait ":             "",
	} {
		// Alone, and with bash-completion's helpers when it is installed.
		for _, full := range []string{"", "yes"} {
			if got := complete(line, full); got != want {
				t.Errorf("completing %q (bash-completion loaded: %q): %q, want %q", line, full, got, want)
			}
		}
	}
}
