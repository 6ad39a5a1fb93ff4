package lab

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// logWriter sends mmdebstrap's progress to the test log, line by line.
type logWriter struct{ t *testing.T }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// buildDebs builds the packages for arch at version (deploy/build-deb.sh)
// into dir, and the same packages as version+"+lab1" into dir/new (the
// upgrade), by repacking them with another version.
func buildDebs(t *testing.T, dir, arch, version string) {
	t.Helper()
	cmd := exec.Command("sh", filepath.Join("..", "build-deb.sh"), arch)
	cmd.Env = append(os.Environ(), "DIST="+dir, "VERSION="+version)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build-deb.sh %s: %v\n%s", arch, err, out)
	}
	debs, _ := filepath.Glob(filepath.Join(dir, "*.deb"))
	if err := os.MkdirAll(filepath.Join(dir, "new"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, deb := range debs {
		x := filepath.Join(t.TempDir(), "x")
		name := strings.Replace(filepath.Base(deb), "_"+version+"_", "_"+version+"+lab1_", 1)
		script := `set -e; dpkg-deb -R "$1" "$2"; sed -i "s/^Version: .*/Version: $3/" "$2/DEBIAN/control"; dpkg-deb -Zxz -b "$2" "$4" >/dev/null`
		if out, err := exec.Command("sh", "-c", script, "sh", deb, x, version+"+lab1", filepath.Join(dir, "new", name)).CombinedOutput(); err != nil {
			t.Fatalf("repacking %s: %v\n%s", deb, err, out)
		}
	}
}

// sh runs script on m (as user, "" for root) and fails the test when it
// exits non-zero; it returns stdout.
func sh(t *testing.T, m *Machine, user, script, stdin string) string {
	t.Helper()
	out, errOut, err := try(t, m, user, script, stdin)
	if err != nil {
		t.Fatalf("%s$ %s: %v\nstdout:\n%s\nstderr:\n%s", m.Name, script, err, out, errOut)
	}
	return out
}

func try(t *testing.T, m *Machine, user, script, stdin string) (string, string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	began := time.Now()
	out, errOut, err := m.Run(ctx, user, script, stdin)
	t.Logf("%s%s$ %s (%v, %.1fs)\n%s%s", m.Name, map[bool]string{true: "#", false: " " + user}[user == ""], script, err,
		time.Since(began).Seconds(), clip(out), clip(errOut))
	return out, errOut, err
}

// clip shortens what the log shows of a long output.
func clip(s string) string {
	const max = 1500
	if len(s) <= max {
		return s
	}
	return s[:max/2] + fmt.Sprintf("\n[... %d bytes ...]\n", len(s)-max) + s[len(s)-max/2:]
}

// eventually runs script until check accepts its stdout, for up to a minute.
func eventually(t *testing.T, m *Machine, user, script string, check func(string) bool, what string) string {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		out, errOut, _ := m.Run(ctx, user, script, "")
		cancel()
		if check(out) {
			return out
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %s: not within a minute; last %q:\n%s%s", m.Name, what, script, out, errOut)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// listening reports whether something listens on TCP port on m.
func listening(t *testing.T, m *Machine, port int) bool {
	t.Helper()
	out := sh(t, m, "", fmt.Sprintf("ss -Hltn 'sport = :%d'", port), "")
	return strings.TrimSpace(out) != ""
}

// buffer is a goroutine-safe bytes.Buffer.
type buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// session is a long-running command (pi2pictl chat / wait) on a machine.
type session struct {
	name        string
	cmd         *exec.Cmd
	stdin       io.WriteCloser
	out, errOut buffer
	done        chan struct{}
	err         error
}

func start(t *testing.T, m *Machine, user, script string) *session {
	t.Helper()
	cmd, err := m.Command(context.Background(), user, script)
	if err != nil {
		t.Fatal(err)
	}
	s := &session{name: m.Name + "$ " + script, cmd: cmd, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = &s.out, &s.errOut
	if s.stdin, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.err = cmd.Wait(); close(s.done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-s.done
	})
	return s
}

func (s *session) send(t *testing.T, line string) {
	t.Helper()
	if _, err := io.WriteString(s.stdin, line+"\n"); err != nil {
		t.Fatalf("%s: writing %q: %v", s.name, line, err)
	}
}

// waitFor waits until the session's stdout contains want.
func (s *session) waitFor(t *testing.T, want string) {
	t.Helper()
	deadline := time.After(time.Minute)
	for !strings.Contains(s.out.String(), want) {
		select {
		case <-deadline:
			t.Fatalf("%s: no %q within a minute\nstdout:\n%s\nstderr:\n%s", s.name, want, s.out.String(), s.errOut.String())
		case <-s.done:
			if !strings.Contains(s.out.String(), want) {
				t.Fatalf("%s ended (%v) without %q\nstdout:\n%s\nstderr:\n%s", s.name, s.err, want, s.out.String(), s.errOut.String())
			}
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// wait waits for the session to end and returns its error.
func (s *session) wait(t *testing.T) error {
	t.Helper()
	select {
	case <-s.done:
		t.Logf("%s ended (%v)\nstdout:\n%s\nstderr:\n%s", s.name, s.err, s.out.String(), s.errOut.String())
		return s.err
	case <-time.After(time.Minute):
		t.Fatalf("%s did not end within a minute\nstdout:\n%s\nstderr:\n%s", s.name, s.out.String(), s.errOut.String())
	}
	return nil
}
