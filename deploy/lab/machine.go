package lab

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Machine is one booted Debian: systemd-nspawn -b on an overlay of the
// cached root, in its own network namespace.
type Machine struct {
	Name  string
	IP    string
	Dir   string // upper, work, root (the merged /), console.log
	Image string // the read-only lower layer
	NetNS string // path of the network namespace
	// Wrapper is the process that runs systemd-nspawn again after a
	// reboot inside (exit status 133) and ends after a power-off.
	Wrapper int
	// BootTimeout bounds one boot (longer under qemu emulation).
	BootTimeout time.Duration
}

// Root is the machine's / as seen from the host.
func (m *Machine) Root() string { return filepath.Join(m.Dir, "root") }

// Prepare mounts the overlay and writes the machine's identity: host name,
// /etc/hosts with every machine of the lab, a machine ID of its own.
func (m *Machine) Prepare(hosts string) error {
	for _, d := range []string{"upper", "work", "root"} {
		if err := os.MkdirAll(filepath.Join(m.Dir, d), 0o755); err != nil {
			return err
		}
	}
	opts := fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s", m.Image, filepath.Join(m.Dir, "upper"), filepath.Join(m.Dir, "work"))
	if err := syscall.Mount("overlay", m.Root(), "overlay", 0, opts); err != nil {
		return fmt.Errorf("mounting the overlay of %s: %w", m.Name, err)
	}
	id := make([]byte, 16)
	_, _ = rand.Read(id)
	files := map[string]string{
		"etc/hostname":   m.Name + "\n",
		"etc/hosts":      "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n" + hosts,
		"etc/machine-id": hex.EncodeToString(id) + "\n",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(m.Root(), name), []byte(content), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// Boot starts the machine and waits until systemd has finished booting.
func (m *Machine) Boot(ctx context.Context) error {
	console, err := os.OpenFile(filepath.Join(m.Dir, "console.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer console.Close()
	// --register=no --keep-unit: no systemd-machined or systemd PID 1 is
	// needed on the host. The loop boots again after a reboot inside.
	nspawn := fmt.Sprintf("systemd-nspawn --boot --register=no --keep-unit --console=passive --directory=%s --machine=%s --network-namespace-path=%s",
		m.Root(), m.Name, m.NetNS)
	cmd := exec.Command("/bin/sh", "-c", "while :; do "+nspawn+"; [ $? -eq 133 ] || exit 0; done")
	cmd.Stdout, cmd.Stderr = console, console
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return err
	}
	m.Wrapper = cmd.Process.Pid
	go func() { _ = cmd.Wait() }() // reap it when it ends
	_, err = m.waitBooted(ctx, 0)
	return err
}

// Leader is the PID (on the host) of the machine's systemd, or 0.
func (m *Machine) Leader() int {
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		args := strings.Split(string(cmdline), "\x00")
		if filepath.Base(args[0]) != "systemd-nspawn" || !contains(args, "--directory="+m.Root()) {
			continue
		}
		children, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
		for _, c := range strings.Fields(string(children)) {
			child, _ := strconv.Atoi(c)
			if comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", child)); strings.TrimSpace(string(comm)) == "systemd" {
				return child
			}
		}
	}
	return 0
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// waitBooted waits for a leader other than old whose systemd has finished
// booting ("running" or "degraded"), and returns it.
func (m *Machine) waitBooted(ctx context.Context, old int) (int, error) {
	timeout := m.BootTimeout
	if timeout == 0 {
		timeout = 2 * time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		if l := m.Leader(); l != 0 && l != old {
			out, _ := exec.CommandContext(ctx, "nsenter", "-t", strconv.Itoa(l), "-a", "systemctl", "is-system-running", "--wait").Output()
			switch strings.TrimSpace(string(out)) {
			case "running", "degraded":
				return l, nil
			}
		}
		if !alive(m.Wrapper) {
			return 0, fmt.Errorf("%s: systemd-nspawn ended; see %s", m.Name, filepath.Join(m.Dir, "console.log"))
		}
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("%s did not finish booting within %v; see %s", m.Name, timeout, filepath.Join(m.Dir, "console.log"))
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func alive(pid int) bool {
	if pid <= 0 {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	// A zombie has ended: it waits only for its parent to reap it.
	return err == nil && !bytes.Contains(stat, []byte(") Z "))
}

// Command runs script with /bin/sh inside the machine, as root or, with
// user set, in a login shell of that user (runuser -l).
func (m *Machine) Command(ctx context.Context, user, script string) (*exec.Cmd, error) {
	l := m.Leader()
	if l == 0 {
		return nil, fmt.Errorf("%s is not running", m.Name)
	}
	args := []string{"-t", strconv.Itoa(l), "-a", "--", "/usr/bin/env", "-i",
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root", "LANG=C.UTF-8", "TERM=dumb"}
	if user == "" || user == "root" {
		args = append(args, "/bin/sh", "-c", "cd && "+script)
	} else {
		args = append(args, "/usr/sbin/runuser", "-l", user, "-c", script)
	}
	return exec.CommandContext(ctx, "nsenter", args...), nil
}

// Run runs script (see Command) with stdin and returns its stdout and
// stderr; err is set when it exits non-zero.
func (m *Machine) Run(ctx context.Context, user, script, stdin string) (string, string, error) {
	cmd, err := m.Command(ctx, user, script)
	if err != nil {
		return "", "", err
	}
	var out, errb bytes.Buffer
	cmd.Stdin = strings.NewReader(stdin)
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	return out.String(), errb.String(), err
}

// Reboot reboots the machine from inside and waits for the new boot.
func (m *Machine) Reboot(ctx context.Context) error {
	old := m.Leader()
	if _, _, err := m.Run(ctx, "", "systemctl reboot", ""); err != nil {
		return fmt.Errorf("%s: systemctl reboot: %w", m.Name, err)
	}
	_, err := m.waitBooted(ctx, old)
	return err
}

// Stop powers the machine off (killing it when it does not stop within
// a minute), then unmounts and removes its files.
func (m *Machine) Stop() error {
	if l := m.Leader(); l != 0 {
		_ = exec.Command("nsenter", "-t", strconv.Itoa(l), "-a", "systemctl", "poweroff").Run()
	}
	deadline := time.Now().Add(time.Minute)
	for alive(m.Wrapper) && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	if alive(m.Wrapper) {
		_ = syscall.Kill(-m.Wrapper, syscall.SIGKILL)
		for i := 0; alive(m.Wrapper) && i < 100; i++ {
			time.Sleep(100 * time.Millisecond)
		}
	}
	var errs []error
	if err := syscall.Unmount(m.Root(), 0); err != nil && !errors.Is(err, syscall.EINVAL) {
		if err := syscall.Unmount(m.Root(), syscall.MNT_DETACH); err != nil {
			errs = append(errs, fmt.Errorf("unmounting %s: %w", m.Root(), err))
		}
	}
	if err := os.RemoveAll(m.Dir); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// CopyIn copies a host file into the machine at dst, owned by uid:gid.
func (m *Machine) CopyIn(src, dst string, uid, gid int) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	target := filepath.Join(m.Root(), dst)
	out, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	return os.Lchown(target, uid, gid)
}
