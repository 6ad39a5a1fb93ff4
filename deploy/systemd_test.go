package deploy_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pi2pi/pi2pi/deploy"
	"github.com/pi2pi/pi2pi/internal/control"
	"github.com/pi2pi/pi2pi/internal/credential"
	"github.com/pi2pi/pi2pi/internal/wire"
)

var units = []string{"pi2pid.service", "pi2pid.socket", "pi2pid-control.socket", "pi2pi-server.service", "pi2pi-server.socket"}

// TestUnitsVerify runs `systemd-analyze verify` on the units as shipped.
// The commands they name must exist, so verify looks into a small root
// holding systemd's own units, the units under test, executables at
// /usr/sbin/pi2pid and /usr/sbin/pi2pi-server, and kill; man pages are
// looked up in deploy/man, so a missing page fails too.
func TestUnitsVerify(t *testing.T) {
	need(t, "systemd-analyze")
	root := t.TempDir()
	sysunits := filepath.Join(root, "usr/lib/systemd")
	if err := os.MkdirAll(sysunits, 0o755); err != nil {
		t.Fatal(err)
	}
	hostUnits := "/usr/lib/systemd/system"
	if _, err := os.Stat(filepath.Join(hostUnits, "sysinit.target")); err != nil {
		hostUnits = "/lib/systemd/system"
	}
	run(t, "", nil, "cp", "-a", hostUnits, sysunits)
	for _, u := range units {
		copyFile(t, filepath.Join(deploy.Dir(), "systemd", u), filepath.Join(sysunits, "system", u), 0o644)
	}
	for _, exe := range []string{"usr/sbin/pi2pid", "usr/sbin/pi2pi-server"} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(root, exe)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, exe), []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	kill, err := exec.LookPath("kill")
	if err != nil {
		t.Skip("no kill command on PATH (apt-get install procps)")
	}
	copyFile(t, kill, filepath.Join(root, "usr/bin/kill"), 0o755)
	args := []string{"verify", "--root=" + root}
	if _, err := exec.LookPath("man"); err != nil {
		t.Log("man is not installed (apt-get install man-db): the Documentation= man pages are not checked")
		args = append(args, "--man=no")
	}
	args = append(args, units...)
	out, err := runErr(filepath.Join(deploy.Dir(), "systemd"), []string{"MANPATH=" + filepath.Join(deploy.Dir(), "man")}, "systemd-analyze", args...)
	if err != nil || strings.TrimSpace(out) != "" {
		t.Fatalf("systemd-analyze verify is not clean (%v):\n%s", err, out)
	}
}

// TestUnitsSecurity holds the services to their exposure budgets:
// systemd-analyze security --offline=yes --threshold=N fails above N/10.
func TestUnitsSecurity(t *testing.T) {
	need(t, "systemd-analyze")
	for unit, threshold := range map[string]int{"pi2pi-server.service": 10, "pi2pid.service": 20} {
		t.Run(unit, func(t *testing.T) {
			out, err := runErr(filepath.Join(deploy.Dir(), "systemd"), nil, "systemd-analyze", "security",
				"--offline=yes", fmt.Sprintf("--threshold=%d", threshold), unit)
			lines := strings.Split(strings.TrimSpace(out), "\n")
			t.Log(lines[len(lines)-1])
			if err != nil {
				t.Fatalf("%s is more exposed than %d.%d (%v):\n%s", unit, threshold/10, threshold%10, err, out)
			}
		})
	}
}

func copyFile(t *testing.T, from, to string, mode os.FileMode) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, mode); err != nil {
		t.Fatal(err)
	}
}

// userManager is a real `systemd --user` in a private mount namespace.
type userManager struct {
	dir     string // everything of this test lives below it
	runtime string // XDG_RUNTIME_DIR
	cmd     *exec.Cmd
	done    chan error
}

func systemdBinary() string {
	for _, p := range []string{"/usr/lib/systemd/systemd", "/lib/systemd/systemd"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

// startUserManager starts `systemd --user` inside `unshare --mount
// --propagation private`, after a tmpfs on /run/systemd and
// /run/systemd/system (the manager's "booted with systemd" check) that
// only this namespace sees, with XDG_RUNTIME_DIR and XDG_CONFIG_HOME in
// dir: units go to dir/config/systemd/user.
func startUserManager(t *testing.T, dir string) *userManager {
	t.Helper()
	sd := systemdBinary()
	if sd == "" {
		t.Skip("systemd is not installed (apt-get install systemd)")
	}
	if _, err := os.Stat("/run/systemd"); err != nil {
		t.Skip("/run/systemd does not exist to mount a private tmpfs on")
	}
	m := &userManager{dir: dir, runtime: filepath.Join(dir, "xdg"), done: make(chan error, 1)}
	for _, d := range []string{"xdg", "config/systemd/user", "state", "home", "log"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	logf, err := os.Create(filepath.Join(dir, "log", "manager.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	inaccessible := makeInaccessibleNodes(t, filepath.Join(dir, "inaccessible"))
	m.cmd = exec.Command("unshare", "--mount", "--propagation", "private", "sh", "-c",
		`mount -t tmpfs tmpfs /run/systemd && mkdir -p /run/systemd/system && cp -a "$1" /run/systemd/inaccessible && exec "$0" --user`,
		sd, inaccessible)
	m.cmd.Env = append(cleanEnv(),
		"XDG_RUNTIME_DIR="+m.runtime,
		"XDG_CONFIG_HOME="+filepath.Join(dir, "config"),
		"XDG_STATE_HOME="+filepath.Join(dir, "state"),
		"HOME="+filepath.Join(dir, "home"),
	)
	m.cmd.Stdout, m.cmd.Stderr = logf, logf
	m.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := m.cmd.Start(); err != nil {
		t.Fatalf("starting systemd --user: %v", err)
	}
	go func() { m.done <- m.cmd.Wait() }()
	t.Cleanup(m.stop)
	private := filepath.Join(m.runtime, "systemd", "private")
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, err := os.Stat(private); err == nil {
			break
		}
		select {
		case err := <-m.done:
			m.done <- err
			log, _ := os.ReadFile(filepath.Join(dir, "log", "manager.log"))
			t.Fatalf("systemd --user exited (%v):\n%s", err, log)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("systemd --user did not open %s within 20s", private)
		}
	}
	return m
}

// makeInaccessibleNodes makes what PID 1 makes at boot in
// /run/systemd/inaccessible: one node of each type with mode 0, which the
// sandboxing options (ProtectHome=, ProtectKernelLogs=, ...) mount over the
// paths they hide. The private tmpfs on /run/systemd hides the host's, if
// any, so the test brings its own.
func makeInaccessibleNodes(t *testing.T, dir string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(dir, "dir"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "reg"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for name, mode := range map[string]uint32{"fifo": syscall.S_IFIFO, "chr": syscall.S_IFCHR, "blk": syscall.S_IFBLK} {
		if err := syscall.Mknod(filepath.Join(dir, name), mode, 0); err != nil {
			t.Fatalf("mknod %s: %v", name, err)
		}
	}
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: filepath.Join(dir, "sock"), Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	l.SetUnlinkOnClose(false)
	l.Close()
	for _, name := range []string{"dir", "reg", "fifo", "chr", "blk", "sock"} {
		if err := os.Chmod(filepath.Join(dir, name), 0); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// cleanEnv is this process's environment without what would point
// systemctl or the manager at another manager or bus.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "XDG_RUNTIME_DIR", "XDG_CONFIG_HOME", "XDG_STATE_HOME", "HOME", "DBUS_SESSION_BUS_ADDRESS", "NOTIFY_SOCKET", "LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES":
			continue
		}
		env = append(env, kv)
	}
	return env
}

// stop ends the manager, which stops its units first.
func (m *userManager) stop() {
	if m.cmd.Process == nil {
		return
	}
	_ = m.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-m.done:
	case <-time.After(15 * time.Second):
		_ = m.cmd.Process.Kill()
		<-m.done
	}
}

// systemctl runs `systemctl --user ARGS` against this manager.
func (m *userManager) systemctl(args ...string) (string, error) {
	cmd := exec.Command("systemctl", append([]string{"--user", "--no-pager"}, args...)...)
	cmd.Env = append(cleanEnv(), "XDG_RUNTIME_DIR="+m.runtime)
	var b bytes.Buffer
	cmd.Stdout, cmd.Stderr = &b, &b
	err := cmd.Run()
	return b.String(), err
}

func (m *userManager) mustSystemctl(t *testing.T, args ...string) string {
	t.Helper()
	out, err := m.systemctl(args...)
	if err != nil {
		t.Fatalf("systemctl --user %s: %v\n%s\n%s", strings.Join(args, " "), err, out, m.diagnose())
	}
	return out
}

// property returns one property of a unit.
func (m *userManager) property(t *testing.T, unit, prop string) string {
	t.Helper()
	return strings.TrimSpace(m.mustSystemctl(t, "show", "--property="+prop, "--value", unit))
}

// waitActive waits until unit is active (for Type=notify: READY=1 came).
func (m *userManager) waitActive(t *testing.T, unit string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		state := m.property(t, unit, "ActiveState")
		if state == "active" {
			return
		}
		if state == "failed" || time.Now().After(deadline) {
			t.Fatalf("%s is %s, not active\n%s", unit, state, m.diagnose())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// diagnose gathers what helps when something fails: status and logs.
func (m *userManager) diagnose() string {
	var b strings.Builder
	out, _ := m.systemctl("status", "--all", "pi2pid.service", "pi2pi-server.service", "pi2pid.socket", "pi2pid-control.socket", "pi2pi-server.socket")
	b.WriteString(out)
	for _, f := range []string{"manager.log", "pi2pid.log", "pi2pi-server.log"} {
		log, _ := os.ReadFile(filepath.Join(m.dir, "log", f))
		fmt.Fprintf(&b, "\n--- %s ---\n%s", f, log)
	}
	return b.String()
}

// waitLog waits until the log file contains want.
func waitLog(t *testing.T, m *userManager, file, want string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		b, _ := os.ReadFile(filepath.Join(m.dir, "log", file))
		if bytes.Contains(b, []byte(want)) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never logged %q\n%s", file, want, m.diagnose())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// freePort returns a TCP port that is free on ip.
func freePort(t *testing.T, ip string) string {
	t.Helper()
	l, err := net.Listen("tcp", ip+":0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, port, _ := net.SplitHostPort(l.Addr().String())
	return port
}

// installUserUnits writes the user-manager versions of the shipped units,
// generated by deploy.UserUnit, and the shipped example configs with the
// test's settings appended.
func installUserUnits(t *testing.T, m *userManager, bin, peerAddr, serverAddr string) {
	t.Helper()
	etc := filepath.Join(m.dir, "etc")
	run := filepath.Join(m.dir, "run")
	for _, d := range []string{etc, run} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	replace := []string{
		"/usr/sbin/pi2pid", filepath.Join(bin, "pi2pid"),
		"/usr/sbin/pi2pi-server", filepath.Join(bin, "pi2pi-server"),
		"/etc/pi2pi", etc,
		"/run/pi2pid", run,
	}
	logTo := func(name string) []string {
		f := "append:" + filepath.Join(m.dir, "log", name)
		return []string{"StandardOutput=" + f, "StandardError=" + f}
	}
	opts := map[string]deploy.UserOptions{
		"pi2pid.socket":         {Set: map[string]string{"Socket.ListenStream": peerAddr}},
		"pi2pid-control.socket": {Replace: replace},
		"pi2pid.service":        {Replace: replace, Append: map[string][]string{"Service": logTo("pi2pid.log")}},
		"pi2pi-server.socket":   {Set: map[string]string{"Socket.ListenStream": serverAddr}},
		"pi2pi-server.service":  {Replace: replace, Append: map[string][]string{"Service": logTo("pi2pi-server.log")}},
	}
	for _, u := range units {
		src, err := os.ReadFile(filepath.Join(deploy.Dir(), "systemd", u))
		if err != nil {
			t.Fatal(err)
		}
		out, err := deploy.UserUnit(src, opts[u])
		if err != nil {
			t.Fatalf("%s: %v", u, err)
		}
		if err := os.WriteFile(filepath.Join(m.dir, "config/systemd/user", u), out, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	appendConfig(t, "pi2pid.conf", filepath.Join(etc, "pi2pid.conf"), fmt.Sprintf(
		"server=%s\nsecurity=plain\nkeypad=console\nlisten=%s\ncontrol=%s\n", serverAddr, peerAddr, filepath.Join(run, "control.sock")))
	appendConfig(t, "pi2pi-server.conf", filepath.Join(etc, "pi2pi-server.conf"), "PI2PI_SERVER_SECURITY=plain\n")
}

func appendConfig(t *testing.T, shipped, to, extra string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(deploy.Dir(), "config", shipped))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, append(b, "\n# added by the test\n"+extra...), 0o644); err != nil {
		t.Fatal(err)
	}
}

// authenticate sends one plain AUTHREQ to the server and returns the
// reply's status.
func authenticate(t *testing.T, addr, user, digits string) string {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("connecting to the socket-activated server: %v", err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
	req := wire.Message{Type: wire.AuthReq, UserID: user, Passcode: credential.FromDigits(user, []byte(digits))}
	if err := wire.Write(conn, req); err != nil {
		t.Fatal(err)
	}
	rep, err := wire.NewDecoder(conn).Decode()
	if err != nil {
		t.Fatalf("reading AUTHREPLY: %v", err)
	}
	return rep.Status
}

// TestUserManager runs the shipped units, adapted by deploy.UserUnit, under
// a real systemd user manager: socket activation of pi2pid by its peer
// port, READY and STATUS through sd_notify, the control socket speaking the
// control protocol, a socket-activated pi2pi-server that re-reads its users
// on `systemctl --user reload`, and a login through pi2pictl.
//
// The journal is not reachable from inside the private namespace (no
// journald there), so the generated units send the services' stdout and
// stderr to files; that is where this test reads the logs.
//
// The lab test (deploy/lab) runs the packages on booted Debian machines,
// where the units really run. This test stays for what the lab does not
// give: it needs neither a Debian mirror nor systemd-nspawn (it runs
// wherever systemd is installed, in seconds), it checks the peer-port
// activation (TriggeredBy=) and the control socket at the protocol level,
// and it keeps deploy.UserUnit, which turns the system units into user
// units, working.
func TestUserManager(t *testing.T) {
	needRoot(t, "a mount namespace and a tmpfs on /run/systemd for systemd --user")
	need(t, "unshare", "systemctl")
	built := binaries(t)
	// Not below /tmp, /var/tmp or /home: PrivateTmp= and ProtectHome= hide
	// those from the services, as they would on a real system.
	dir, err := os.MkdirTemp("/var/lib", "pi2pi-deploy-test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	bin := filepath.Join(dir, "bin")
	for _, name := range []string{"pi2pid", "pi2pictl", "pi2pi-server"} {
		copyFile(t, filepath.Join(built, name), filepath.Join(bin, name), 0o755)
	}
	m := &userManager{dir: dir}
	peerAddr := net.JoinHostPort("127.0.0.7", freePort(t, "127.0.0.7"))
	serverAddr := net.JoinHostPort("127.0.0.6", freePort(t, "127.0.0.6"))
	for _, d := range []string{"config/systemd/user"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	installUserUnits(t, m, bin, peerAddr, serverAddr)
	m = startUserManager(t, dir)

	m.mustSystemctl(t, "start", "pi2pid.socket", "pi2pid-control.socket", "pi2pi-server.socket")
	if s := m.property(t, "pi2pid.service", "ActiveState"); s != "inactive" {
		t.Fatalf("pi2pid.service is %s before any connection; socket activation should start it", s)
	}
	controlPath := filepath.Join(dir, "run", "control.sock")
	if fi, err := os.Stat(controlPath); err != nil || fi.Mode().Perm() != 0o660 || fi.Mode()&os.ModeSocket == 0 {
		t.Fatalf("control socket %s: %v, want a socket with mode 0660", controlPath, err)
	}

	if !t.Run("activation by the peer port", func(t *testing.T) {
		conn, err := net.DialTimeout("tcp", peerAddr, 5*time.Second)
		if err != nil {
			t.Fatalf("connecting to pi2pid.socket at %s: %v", peerAddr, err)
		}
		conn.Close()
		m.waitActive(t, "pi2pid.service") // Type=notify: active once READY=1 came
		if got := m.property(t, "pi2pid.service", "TriggeredBy"); !strings.Contains(got, "pi2pid.socket") {
			t.Errorf("pi2pid.service TriggeredBy=%q, want pi2pid.socket", got)
		}
		status := m.property(t, "pi2pid.service", "StatusText")
		if status == "" {
			t.Fatalf("pi2pid sent no STATUS=\n%s", m.diagnose())
		}
		out := m.mustSystemctl(t, "status", "pi2pid.service")
		if !strings.Contains(out, "Status: \""+status) {
			t.Errorf("systemctl --user status does not show STATUS=%q:\n%s", status, out)
		}
		if w := m.property(t, "pi2pid.service", "WatchdogUSec"); w != "30s" {
			t.Errorf("WatchdogUSec=%q, want 30s", w)
		}
		waitLog(t, m, "pi2pid.log", "ready")
		t.Logf("pi2pid: STATUS=%q", status)
	}) {
		return
	}

	if !t.Run("control socket", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c, err := control.Dial(ctx, controlPath)
		if err != nil {
			t.Fatalf("control hello: %v\n%s", err, m.diagnose())
		}
		defer c.Close()
		rep, err := c.Call(ctx, control.Request{Op: control.OpStatus})
		if err != nil {
			t.Fatalf("status over the control socket: %v", err)
		}
		if rep.Status == nil || rep.Status.Listen == "" || rep.Status.Keypad != "console" {
			t.Fatalf("status = %+v, want the daemon's settings from the config file", rep.Status)
		}
	}) {
		return
	}

	if !t.Run("server reload re-reads users", func(t *testing.T) {
		if st := authenticate(t, serverAddr, "ali", "1234"); st != wire.Refused {
			t.Fatalf("AUTHREQ for a user not yet added: %s, want REFUSED", st)
		}
		m.waitActive(t, "pi2pi-server.service")
		waitLog(t, m, "pi2pi-server.log", "listening")
		pid := m.property(t, "pi2pi-server.service", "MainPID")
		stateDir := serviceEnv(t, pid, "STATE_DIRECTORY")
		add := exec.Command(filepath.Join(bin, "pi2pi-server"), "user", "add", "ali",
			"--users", filepath.Join(dir, "etc", "users"), "--state-dir", stateDir)
		add.Stdin = strings.NewReader("1234\n")
		if out, err := add.CombinedOutput(); err != nil {
			t.Fatalf("pi2pi-server user add: %v\n%s", err, out)
		}
		m.mustSystemctl(t, "reload", "pi2pi-server.service")
		waitLog(t, m, "pi2pi-server.log", "reloading users file")
		if now := m.property(t, "pi2pi-server.service", "MainPID"); now != pid {
			t.Fatalf("reload restarted the server (pid %s -> %s); it should only send SIGHUP", pid, now)
		}
		if st := authenticate(t, serverAddr, "ali", "1234"); st != wire.Granted {
			t.Fatalf("AUTHREQ after user add and reload: %s, want GRANTED\n%s", st, m.diagnose())
		}
	}) {
		return
	}

	t.Run("pi2pictl login through the activated daemon", func(t *testing.T) {
		ctl := exec.Command(filepath.Join(bin, "pi2pictl"), "--socket", controlPath, "login")
		ctl.Stdin = strings.NewReader("ali\n1234\n")
		out, err := ctl.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "Logged in.") {
			t.Fatalf("pi2pictl login: %v\n%s\n%s", err, out, m.diagnose())
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			status := m.property(t, "pi2pid.service", "StatusText")
			if strings.Contains(status, "ali") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("STATUS after login is %q, want it to name ali", status)
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
}

// serviceEnv reads one variable of a running process's environment.
func serviceEnv(t *testing.T, pid, name string) string {
	t.Helper()
	b, err := os.ReadFile("/proc/" + pid + "/environ")
	if err != nil {
		t.Fatalf("reading the service's environment: %v", err)
	}
	for _, kv := range bytes.Split(b, []byte{0}) {
		if v, ok := bytes.CutPrefix(kv, []byte(name+"=")); ok {
			return string(v)
		}
	}
	t.Fatalf("the service has no %s in its environment", name)
	return ""
}
