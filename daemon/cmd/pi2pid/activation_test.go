package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pi2pi/pi2pi/internal/control"
	"github.com/pi2pi/pi2pi/internal/testbin"
)

// TestListenFDs hands pi2pid both listeners the way systemd does:
// LISTEN_FDS, LISTEN_FDNAMES and LISTEN_PID, with the sockets as fds 3 and 4.
func TestListenFDs(t *testing.T) {
	bin := testbin.Build(t, "./daemon/cmd/pi2pid")
	dir := t.TempDir()
	port := testbin.FreePort(t, "127.0.0.2")
	l := activationListeners(t, fmt.Sprintf("127.0.0.2:%d", port), dir)
	sock := l.sock
	cmd := l.command(bin,
		"--server", "127.0.0.1:1", "--listen", "127.0.0.9:1", "--control", filepath.Join(dir, "not-used.sock"),
		"--state-dir", filepath.Join(dir, "state"), "--keypad", "console", "--security", "plain", "--config", os.DevNull)
	p := testbin.Start(t, cmd)
	p.WaitLog(t, "ready")
	if !strings.Contains(p.Logs(), "from_systemd=peer,control") {
		t.Fatalf("listeners not taken from systemd:\n%s", p.Logs())
	}
	u := attach(t, sock)
	st := u.Must(control.Request{Op: control.OpStatus}).Status
	if st.Listen != fmt.Sprintf("127.0.0.2:%d", port) || st.State != "logged-out" {
		t.Fatalf("status %+v", st)
	}
	if _, err := os.Stat(filepath.Join(dir, "not-used.sock")); err == nil {
		t.Fatal("daemon opened its own control socket despite socket activation")
	}
	// The peer listener answers: a garbage request gets a refusal.
	c, err := net.DialTimeout("tcp", st.Listen, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprint(c, "garbage\n")
	buf := make([]byte, 200)
	n, _ := c.Read(buf)
	if !strings.Contains(string(buf[:n]), `"REFUSED"`) {
		t.Fatalf("peer port answered %q", buf[:n])
	}
}

// TestSystemdSocketActivate starts pi2pid under systemd-socket-activate,
// which opens both sockets and starts the daemon on the first connection.
func TestSystemdSocketActivate(t *testing.T) {
	ssa, err := exec.LookPath("systemd-socket-activate")
	if err != nil {
		t.Skip("systemd-socket-activate is not installed (apt-get install systemd)")
	}
	bin := testbin.Build(t, "./daemon/cmd/pi2pid")
	dir := t.TempDir()
	port := testbin.FreePort(t, "127.0.0.2")
	sock := filepath.Join(dir, "control.sock")
	cmd := exec.Command(ssa, "-l", fmt.Sprintf("127.0.0.2:%d", port), "-l", sock, "--fdname=peer:control",
		bin, "--server", "127.0.0.1:1", "--control", filepath.Join(dir, "not-used.sock"),
		"--state-dir", filepath.Join(dir, "state"), "--keypad", "console", "--security", "plain", "--config", os.DevNull)
	cmd.Env = cleanEnv()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	p := testbin.Start(t, cmd)
	// The socket's file exists from bind(), before listen(): wait until
	// it takes connections. That first connection starts pi2pid.
	deadline := time.Now().Add(10 * time.Second)
	for {
		if c, err := net.Dial("unix", sock); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("systemd-socket-activate did not open %s:\n%s", sock, p.Logs())
		}
		time.Sleep(10 * time.Millisecond)
	}
	u := attach(t, sock)
	st := u.Must(control.Request{Op: control.OpStatus}).Status
	if st.Listen != fmt.Sprintf("127.0.0.2:%d", port) {
		t.Fatalf("status %+v", st)
	}
	p.WaitLog(t, "from_systemd=peer,control")
}

// listeners are a peer and a control listener opened as systemd would
// open them for socket activation, with their files to hand over.
type listeners struct {
	peerL, ctlL net.Listener
	peerF, ctlF *os.File
	sock        string // the control socket's path
}

// activationListeners opens the peer listener on peerAddr and the control
// socket in dir; they are closed when the test ends.
func activationListeners(t *testing.T, peerAddr, dir string) *listeners {
	t.Helper()
	l := &listeners{sock: filepath.Join(dir, "control.sock")}
	var err error
	if l.peerL, err = net.Listen("tcp", peerAddr); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.peerL.Close() })
	if l.ctlL, err = net.Listen("unix", l.sock); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.ctlL.Close() })
	if l.peerF, err = l.peerL.(*net.TCPListener).File(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.peerF.Close() })
	if l.ctlF, err = l.ctlL.(*net.UnixListener).File(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.ctlF.Close() })
	return l
}

// command runs pi2pid bin with args and the listeners handed over as
// systemd hands them (LISTEN_FDS, LISTEN_FDNAMES=peer:control).
func (l *listeners) command(bin string, args ...string) *exec.Cmd {
	// LISTEN_PID must be the daemon's own pid: let the shell exec it.
	cmd := exec.Command("/bin/sh", append([]string{"-c", `LISTEN_PID=$$ exec "$0" "$@"`, bin}, args...)...)
	cmd.Env = append(cleanEnv(), "LISTEN_FDS=2", "LISTEN_FDNAMES=peer:control")
	cmd.ExtraFiles = []*os.File{l.peerF, l.ctlF}
	return cmd
}
