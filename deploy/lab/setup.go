package lab

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// Passcode of the users that Setup enrols.
const Passcode = "2468"

// Setup installs and configures the lab for a person (make lab), with the
// README's steps: pi2pi-server on "server" with users ali and bianca, and
// pi2pi-terminal on the other machines, configured for that server and
// enabled, with User in group pi2pi. debs holds the amd64 packages.
// Logging in is left to the person.
func Setup(ctx context.Context, l *Lab, debs string, log io.Writer) error {
	run := func(m *Machine, user, script, stdin string) (string, error) {
		fmt.Fprintf(log, "%s$ %s\n", m.Name, script)
		out, errOut, err := m.Run(ctx, user, script, stdin)
		if err != nil {
			return "", fmt.Errorf("%s: %s: %w\n%s%s", m.Name, script, err, out, errOut)
		}
		return out, nil
	}
	var fp string
	for _, m := range l.Machines {
		pkg := "pi2pi-terminal"
		if m.Name == "server" {
			pkg = "pi2pi-server"
		}
		files, _ := filepath.Glob(filepath.Join(debs, pkg+"_*_amd64.deb"))
		if len(files) != 1 {
			return fmt.Errorf("want one %s_*_amd64.deb in %s, found %d", pkg, debs, len(files))
		}
		if err := m.CopyIn(files[0], filepath.Join("home", User, filepath.Base(files[0])), 1000, 1000); err != nil {
			return err
		}
		steps := []string{TerminalInstall, TerminalConfigure, TerminalEnable, TerminalRestart, TerminalGroup}
		if m.Name == "server" {
			steps = []string{ServerInstall, ServerUserAdd, strings.Replace(ServerUserAdd, " ali", " bianca", 1), ServerReload, ServerFingerprint}
		} else {
			edit := fmt.Sprintf("server=server:8082\nserver-fingerprint=%s\nkeypad=console\n", fp)
			if err := os.WriteFile(filepath.Join(m.Root(), EditFile), []byte(edit), 0o644); err != nil {
				return err
			}
		}
		for _, step := range steps {
			stdin := ""
			if strings.Contains(step, "user add") {
				stdin = Passcode + "\n"
			}
			out, err := run(m, User, Adapt(step, "amd64", l.Machines[0].IP), stdin)
			if err != nil {
				return err
			}
			if step == ServerFingerprint {
				fp = strings.TrimSpace(out)
			}
		}
	}
	return nil
}
