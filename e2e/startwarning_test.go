package e2e

import (
	"strings"
	"testing"
)

// warningLine returns the first line of a program's stderr, up to the line
// that says it is ready, that is a warning about plain mode's clear text,
// and the line of readiness itself.
func warningLine(stderr, ready string) (warning, readyLine string, warnedBeforeReady bool) {
	for _, l := range strings.Split(stderr, "\n") {
		low := strings.ToLower(l)
		if warning == "" && strings.Contains(low, "warn") && strings.Contains(low, "plain mode") && strings.Contains(low, "clear text") {
			warning = l
			warnedBeforeReady = readyLine == ""
		}
		if readyLine == "" && strings.Contains(l, ready) {
			readyLine = l
		}
	}
	return warning, readyLine, warnedBeforeReady
}

// TestPlainModeWarningAtStart: the server and the daemon, started with
// --security plain, log a warning at level WARN on stderr that plain mode
// sends things in clear text, before they say they are ready. Started in
// secure mode (the control), neither logs it.
func TestPlainModeWarningAtStart(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			srv := startServer(t, mode, []string{"ali"})
			tm := startTerminal(t, srv)
			for _, prog := range []struct {
				name, stderr, stdout, ready string
			}{
				{"pi2pi-server", srv.p.Stderr(), srv.p.Stdout(), "listening"},
				{"pi2pid", tm.p.Stderr(), tm.p.Stdout(), "ready"},
			} {
				warning, ready, early := warningLine(prog.stderr, prog.ready)
				if ready == "" {
					t.Fatalf("%s: no %q line on stderr:\n%s", prog.name, prog.ready, prog.stderr)
				}
				switch mode {
				case "plain":
					if warning == "" {
						t.Errorf("%s --security plain logged no plain-mode warning on stderr:\n%s", prog.name, prog.stderr)
						continue
					}
					if !early {
						t.Errorf("%s logged the plain-mode warning only after %q:\n%s", prog.name, ready, prog.stderr)
					}
					if !strings.Contains(warning, "WARN") {
						t.Errorf("%s: the plain-mode line is not at level WARN: %s", prog.name, warning)
					}
					if strings.Contains(strings.ToLower(prog.stdout), "plain mode") {
						t.Errorf("%s wrote the warning to stdout, which is for output:\n%s", prog.name, prog.stdout)
					}
					t.Logf("%s: %s", prog.name, warning)
				case "secure":
					if warning != "" || strings.Contains(strings.ToLower(prog.stderr), "plain mode") {
						t.Errorf("%s --security secure logged a plain-mode warning:\n%s", prog.name, prog.stderr)
					}
				}
			}
		})
	}
}
