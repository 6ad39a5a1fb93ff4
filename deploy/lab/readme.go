package lab

import (
	"bufio"
	"fmt"
	"os"
	"regexp"
	"strings"
)

// The README's install, upgrade and troubleshooting commands, as written
// there (without their comments). The lab test runs each of them through
// Adapt; TestREADMEIsTheLab checks that this list and the README's
// ```sh blocks of "## Installing" (Linux) and "## Troubleshooting" are the
// same, so neither can change without the other.
const (
	TerminalInstall   = `sudo apt install ./pi2pi-terminal_*_armhf.deb`
	TerminalConfigure = `sudoedit /etc/pi2pi/pi2pid.conf`
	TerminalEnable    = `sudo systemctl enable pi2pid`
	TerminalRestart   = `sudo systemctl restart pi2pid`
	TerminalGroup     = `sudo adduser "$USER" pi2pi`
	Login             = `pi2pictl login`
	GpiochipInstall   = `sudo install -D -m 0644 /usr/share/doc/pi2pi-terminal/examples/gpiochip.conf /etc/systemd/system/pi2pid.service.d/gpiochip.conf`
	GpiochipRestart   = `sudo systemctl daemon-reload && sudo systemctl restart pi2pid`
	ServerInstall     = `sudo apt install ./pi2pi-server_*_amd64.deb`
	ServerUserAdd     = `sudo pi2pi-server user add ali`
	ServerReload      = `sudo systemctl try-reload-or-restart pi2pi-server`
	ServerFingerprint = `sudo pi2pi-server fingerprint`
	StatusPi2pid      = `systemctl status pi2pid`
	JournalBoot       = `journalctl -u pi2pid -b`
	JournalFollow     = `journalctl -u pi2pid -f`
	JournalSockets    = `journalctl -u pi2pid.socket -u pi2pid-control.socket`
	StatusServer      = `systemctl status pi2pi-server; journalctl -u pi2pi-server -e`
	Probe             = `sudo pi2pi-server probe HOST:8082`
)

// Steps are the README commands that the lab runs.
var Steps = []string{
	TerminalInstall, TerminalConfigure, TerminalEnable, TerminalRestart, TerminalGroup, Login,
	GpiochipInstall, GpiochipRestart,
	ServerInstall, ServerUserAdd, ServerReload, ServerFingerprint,
	StatusPi2pid, JournalBoot, JournalSockets, StatusServer, Probe,
}

// NotRun are README commands that the lab does not run, and why.
var NotRun = map[string]string{
	JournalFollow: "follows the journal until interrupted; JournalBoot reads the same log",
}

// Adapt turns a README command into what runs on a lab machine: the
// package's architecture for arch, the server's address for HOST, and the
// lab's editor for sudoedit (it appends EditFile). Nothing else changes.
func Adapt(step, arch, server string) string {
	s := strings.ReplaceAll(step, "_armhf.deb", "_"+arch+".deb")
	s = strings.ReplaceAll(s, "_amd64.deb", "_"+arch+".deb")
	s = strings.ReplaceAll(s, "HOST:", server+":")
	if strings.HasPrefix(s, "sudoedit ") {
		s = "SUDO_EDITOR=lab-edit " + s
	}
	return s
}

// comment is a command's trailing comment: two or more spaces, then #.
var comment = regexp.MustCompile(`\s{2,}#.*$`)

// READMECommands returns the commands of the ```sh blocks in the README's
// "## Installing" section (up to "### The server on Windows") and
// "## Troubleshooting", continuation lines joined, comments removed.
func READMECommands(readme string) ([]string, error) {
	f, err := os.Open(readme)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var cmds []string
	section, block, cont := false, false, ""
	s := bufio.NewScanner(f)
	for s.Scan() {
		line := s.Text()
		switch {
		case strings.HasPrefix(line, "## "):
			section = line == "## Installing" || line == "## Troubleshooting"
		case strings.HasPrefix(line, "### The server on Windows"):
			section = false
		case section && line == "```sh":
			block = true
		case block && strings.HasPrefix(line, "```"):
			block = false
		case block:
			line = strings.TrimSpace(comment.ReplaceAllString(line, ""))
			if rest, ok := strings.CutSuffix(line, `\`); ok {
				cont += strings.TrimSpace(rest) + " "
				continue
			}
			if line = cont + line; line != "" {
				cmds = append(cmds, line)
			}
			cont = ""
		}
	}
	if len(cmds) == 0 {
		return nil, fmt.Errorf("%s: no ```sh blocks in Installing or Troubleshooting", readme)
	}
	return cmds, s.Err()
}
