package lab

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// passcode is long enough not to turn up by chance in the journal's
// numbers; passcodeInJournal skips those anyway.
const passcode = "58203917"

// world is a lab of a server and two terminals, ali and bianca; ali's
// architecture is aliArch, the others' amd64.
type world struct {
	lab                 *Lab
	server, ali, bianca *Machine
	arch                map[*Machine]string
	srvIP               string
}

func needLab(t *testing.T) {
	t.Helper()
	if os.Getuid() != 0 {
		t.Skip("the lab needs root (overlay mounts, network namespaces, systemd-nspawn): run the tests as root")
	}
	if testing.Short() {
		t.Skip("the lab boots three Debian machines; skipped with -short")
	}
	for _, tool := range []string{"mmdebstrap", "systemd-nspawn", "nsenter", "ip", "ss", "dpkg-deb"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("the lab needs %s (apt-get install mmdebstrap systemd-container iproute2 dpkg-dev; make deps does it)", tool)
		}
	}
}

// newWorld builds the debs and the roots and boots the machines.
func newWorld(t *testing.T, aliArch string, aliBoot time.Duration) *world {
	ctx := context.Background()
	log := logWriter{t}
	srvImage, err := Image(ctx, "amd64", log)
	if err != nil {
		t.Fatal(err)
	}
	aliImage := srvImage
	if aliArch != "amd64" {
		if aliImage, err = Image(ctx, aliArch, log); err != nil {
			t.Fatal(err)
		}
	}
	debs := t.TempDir()
	buildDebs(t, debs, "amd64", "1.0.0")
	if aliArch != "amd64" {
		buildDebs(t, debs, aliArch, "1.0.0")
	}
	l, err := Up(ctx, fmt.Sprintf("pi2pilab-%d", os.Getpid()), t.TempDir(), []Spec{
		{Name: "server", Image: srvImage},
		{Name: "ali", Image: aliImage, BootTimeout: aliBoot},
		{Name: "bianca", Image: srvImage},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := l.Down(); err != nil {
			t.Errorf("lab down: %v", err)
		}
	})
	w := &world{lab: l, server: l.Machine("server"), ali: l.Machine("ali"), bianca: l.Machine("bianca"),
		srvIP: l.Machine("server").IP}
	w.arch = map[*Machine]string{w.server: "amd64", w.ali: aliArch, w.bianca: "amd64"}
	for _, m := range l.Machines {
		sh(t, m, User, "mkdir -p new", "")
		pkg, arch := "pi2pi-terminal", w.arch[m]
		if m.Name == "server" {
			pkg = "pi2pi-server"
		}
		for _, sub := range []string{"", "new"} {
			files, _ := filepath.Glob(filepath.Join(debs, sub, pkg+"_*_"+arch+".deb"))
			for _, f := range files {
				if err := m.CopyIn(f, filepath.Join("home", User, sub, filepath.Base(f)), 1000, 1000); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	return w
}

// readme runs a README step, adapted to the lab (Adapt), on m.
func (w *world) readme(t *testing.T, m *Machine, user, step, stdin string) string {
	t.Helper()
	return sh(t, m, user, Adapt(step, w.arch[m], w.srvIP), stdin)
}

// TestLab installs the packages on booted Debian machines and follows the
// README's steps word for word: install, enrol, configure, login, chat,
// the journal, reinstalls and an upgrade while logged in and chatting, a
// reboot, disable, purge; with a check for each finding of issue 13.
func TestLab(t *testing.T) {
	needLab(t)
	w := newWorld(t, "amd64", 0)
	fp := w.setUpServer(t)
	w.configErrorIsExplained(t, w.bianca)
	for _, m := range []*Machine{w.ali, w.bianca} {
		w.setUpTerminal(t, m, fp)
		w.login(t, m, m.Name)
	}
	w.serverStateNotMigrated(t)
	w.troubleshooting(t)
	w.chat(t, "first chat")
	w.probeLogsInAsNobody(t)
	w.serverReloadReadsUsers(t)
	w.configEditNeedsRestart(t, w.ali)
	w.reinstallsKeepThePort(t, w.bianca, 3)
	w.upgradeWhileChatting(t)
	w.serverUpgradeKeepsSessions(t)
	w.rebootKeepsIdentity(t, w.ali)
	w.disableSwitchesOff(t, w.bianca)
	w.gpiochipDropIn(t, w.bianca)
	w.versionsAndCompletion(t, w.ali)
	w.purge(t)
}

func (w *world) setUpServer(t *testing.T) string {
	s := w.server
	w.readme(t, s, User, ServerInstall, "")
	w.readme(t, s, User, ServerUserAdd, passcode+"\n")
	sh(t, s, User, strings.Replace(Adapt(ServerUserAdd, "amd64", w.srvIP), " ali", " bianca", 1), passcode+"\n")
	// Finding 3: the recipe works on a fresh install, where the server
	// has not started yet.
	if out, _, _ := try(t, s, "", "systemctl is-active pi2pi-server.service", ""); strings.TrimSpace(out) == "active" {
		t.Fatalf("pi2pi-server runs before any terminal connected; the reload step is not tested on a fresh install")
	}
	w.readme(t, s, User, ServerReload, "")
	fp := strings.TrimSpace(w.readme(t, s, User, ServerFingerprint, ""))
	if !strings.HasPrefix(fp, "SHA256:") {
		t.Fatalf("pi2pi-server fingerprint printed %q", fp)
	}
	if !listening(t, s, 8082) {
		t.Fatal("nothing listens on port 8082 after installing pi2pi-server")
	}
	return fp
}

// configErrorIsExplained: finding 5. Before server= is set, pi2pictl
// says what is wrong and where to fix it, and systemd does not restart
// pi2pid over and over.
func (w *world) configErrorIsExplained(t *testing.T, m *Machine) {
	w.readme(t, m, User, TerminalInstall, "")
	_, errOut, err := try(t, m, "", "pi2pictl status", "")
	if err == nil {
		t.Fatal("pi2pictl status succeeded without a server configured")
	}
	for _, want := range []string{"no server address", "/etc/pi2pi/pi2pid.conf", "sudo systemctl restart pi2pid"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("pi2pictl without a configured server says %q, which does not say %q", errOut, want)
		}
	}
	// RestartSec=2s: a restart loop would show within 5 s.
	time.Sleep(5 * time.Second)
	show := sh(t, m, "", "systemctl show -p NRestarts -p ExecMainStatus pi2pid.service", "")
	if !strings.Contains(show, "NRestarts=0") || !strings.Contains(show, "ExecMainStatus=2") {
		t.Errorf("after a configuration error: %s; want no restarts and exit status 2", show)
	}
	for _, u := range []string{"pi2pid.socket", "pi2pid-control.socket"} {
		if out, _, _ := try(t, m, "", "systemctl is-active "+u, ""); strings.TrimSpace(out) != "active" {
			t.Errorf("%s is %q after the configuration error, want active", u, out)
		}
	}
}

func (w *world) setUpTerminal(t *testing.T, m *Machine, fp string) {
	if out, _, _ := try(t, m, "", "dpkg-query -W -f '${Status}' pi2pi-terminal", ""); !strings.Contains(out, "installed") {
		w.readme(t, m, User, TerminalInstall, "")
	}
	edit := fmt.Sprintf("server=%s:8082\nserver-fingerprint=%s\nkeypad=console\n", w.srvIP, fp)
	if err := os.WriteFile(filepath.Join(m.Root(), EditFile), []byte(edit), 0o644); err != nil {
		t.Fatal(err)
	}
	w.readme(t, m, User, TerminalConfigure, "")
	w.readme(t, m, User, TerminalEnable, "")
	w.readme(t, m, User, TerminalRestart, "")
	w.readme(t, m, User, TerminalGroup, "")
}

func (w *world) login(t *testing.T, m *Machine, user string) {
	t.Helper()
	out := w.readme(t, m, User, Login, user+"\n"+passcode+"\n")
	if !strings.Contains(out, "Logged in.") {
		t.Fatalf("%s: pi2pictl login printed %q", m.Name, out)
	}
}

// status returns pi2pictl status --json on m.
func status(t *testing.T, m *Machine) map[string]string {
	t.Helper()
	var st map[string]string
	out := sh(t, m, User, "pi2pictl status --json", "")
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("%s: pi2pictl status --json: %v: %q", m.Name, err, out)
	}
	return st
}

// serverStateNotMigrated: finding 7. `user add` before the first start
// leaves nothing for systemd to migrate.
func (w *world) serverStateNotMigrated(t *testing.T) {
	out := sh(t, w.server, "", "journalctl -b --no-pager -o cat", "")
	if strings.Contains(out, "migrating") || strings.Contains(out, "pre-existing public") {
		t.Errorf("systemd migrated the server's state directory:\n%s", grepLines(out, "igrat"))
	}
	if target, err := os.Readlink(filepath.Join(w.server.Root(), "var/lib/pi2pi-server")); err != nil || target != "private/pi2pi-server" {
		t.Errorf("/var/lib/pi2pi-server: link to %q (%v), want private/pi2pi-server", target, err)
	}
}

// passcodeInJournal returns the journal's fields (all of them, as in
// journalctl -o verbose) that hold the passcode, leaving out the entry
// headers (cursors) and the journal's own numeric fields (_PID, times).
func passcodeInJournal(t *testing.T, m *Machine) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, _, err := m.Run(ctx, "", "journalctl -b --no-pager -o verbose", "")
	if err != nil {
		t.Fatalf("%s: journalctl: %v", m.Name, err)
	}
	var hits []string
	for _, l := range strings.Split(out, "\n") {
		f := strings.TrimSpace(l)
		if l == f || strings.HasPrefix(f, "_") {
			continue // an entry's header, or a field the journal adds
		}
		if strings.Contains(f, passcode) {
			hits = append(hits, f)
		}
	}
	return strings.Join(hits, "\n")
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func (w *world) troubleshooting(t *testing.T) {
	if out := w.readme(t, w.ali, User, StatusPi2pid, ""); !strings.Contains(out, "Logged in as ali") {
		t.Errorf("systemctl status pi2pid does not show the STATUS= line:\n%s", out)
	}
	if out := w.readme(t, w.ali, "", JournalBoot, ""); !strings.Contains(out, "state ") {
		t.Errorf("journalctl -u pi2pid -b shows no state transitions:\n%s", out)
	}
	w.readme(t, w.ali, "", JournalSockets, "")
	w.readme(t, w.server, "", StatusServer, "")
	for _, m := range []*Machine{w.server, w.ali, w.bianca} {
		if lines := passcodeInJournal(t, m); lines != "" {
			t.Errorf("%s: the journal holds the passcode:\n%s", m.Name, lines)
		}
	}
}

var safety = regexp.MustCompile(`Safety code: ([0-9 ]+)`)

// openChat starts bianca's `pi2pictl wait` and ali's `pi2pictl chat
// bianca` and exchanges the seeds' two lines.
func (w *world) openChat(t *testing.T) (caller, callee *session) {
	callee = start(t, w.bianca, User, "pi2pictl wait")
	for deadline := time.Now().Add(time.Minute); ; {
		caller = start(t, w.ali, User, "pi2pictl chat bianca")
		time.Sleep(500 * time.Millisecond)
		select {
		case <-caller.done:
			// Refused as away while bianca's wait is not attached yet.
			if !strings.Contains(caller.errOut.String(), "away") || time.Now().After(deadline) {
				t.Fatalf("pi2pictl chat bianca ended: %v\n%s%s", caller.err, caller.out.String(), caller.errOut.String())
			}
			continue
		default:
		}
		break
	}
	caller.waitFor(t, "Connection established")
	callee.waitFor(t, "Connection received from user ali")
	caller.send(t, "Hello, are you there?")
	callee.waitFor(t, "Hello, are you there?")
	callee.send(t, "Yes, here I am!")
	caller.waitFor(t, "Yes, here I am!")
	a, b := safety.FindStringSubmatch(caller.out.String()), safety.FindStringSubmatch(callee.out.String())
	if a == nil || b == nil || a[1] != b[1] {
		t.Errorf("safety codes differ or are missing: %q, %q", a, b)
	}
	return caller, callee
}

func (w *world) chat(t *testing.T, what string) {
	caller, callee := w.openChat(t)
	if out := sh(t, w.ali, "", "journalctl -u pi2pid STATE=chatting --no-pager", ""); !strings.Contains(out, "chatting") {
		t.Errorf("journalctl -u pi2pid STATE=chatting finds nothing during a chat:\n%s", out)
	}
	caller.stdin.Close()
	if err := caller.wait(t); err != nil {
		t.Errorf("%s: the caller's chat ended with %v", what, err)
	}
	callee.waitFor(t, "Connection ended")
	callee.stdin.Close()
	callee.wait(t)
}
