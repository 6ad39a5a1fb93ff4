package main

import (
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/pi2pi/pi2pi/daemon/backend/backendtest"
	"github.com/pi2pi/pi2pi/internal/testbin"
)

// pipedRun is pi2pictl running with pipes for stdin and stdout, as in a
// script: the other person of a chat.
type pipedRun struct {
	stdin  io.WriteCloser
	stdout *testbin.Buffer
	stderr *testbin.Buffer
	done   chan error
}

// piped runs pi2pictl with args on tm's control socket and writes input
// to its stdin, which then stays open for type_; for a login it closes.
func piped(t *testing.T, tm *backendtest.Terminal, input string, args ...string) *pipedRun {
	t.Helper()
	cmd := exec.Command(testbin.Build(t, "./ctl/cmd/pi2pictl"), append([]string{"--socket", tm.Socket}, args...)...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "XDG_STATE_HOME=" + t.TempDir()}
	p := &pipedRun{stdout: &testbin.Buffer{}, stderr: &testbin.Buffer{}, done: make(chan error, 1)}
	cmd.Stdout, cmd.Stderr = p.stdout, p.stderr
	var err error
	if p.stdin, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-p.done
	})
	p.type_(t, input)
	if len(args) > 0 && args[0] == "login" {
		p.stdin.Close()
	}
	return p
}

func (p *pipedRun) type_(t *testing.T, s string) {
	t.Helper()
	if _, err := io.WriteString(p.stdin, s); err != nil {
		t.Fatal(err)
	}
}

// waitOut waits until stdout showed s.
func (p *pipedRun) waitOut(t *testing.T, s string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(p.stdout.String(), s) {
		if time.Now().After(deadline) {
			t.Fatalf("stdout never showed %q; stdout:\n%s\nstderr:\n%s", s, p.stdout.String(), p.stderr.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// exited waits for pi2pictl to end with exit 0.
func (p *pipedRun) exited(t *testing.T) {
	t.Helper()
	select {
	case err := <-p.done:
		p.done <- err // for the cleanup
		if err != nil {
			t.Fatalf("pi2pictl: %v\nstdout:\n%s\nstderr:\n%s", err, p.stdout.String(), p.stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("pi2pictl did not end\nstdout:\n%s\nstderr:\n%s", p.stdout.String(), p.stderr.String())
	}
}
