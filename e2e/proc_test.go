package e2e

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// proc is a program the test started, with its output kept for waiting on
// and for the failure report.
type proc struct {
	t     testing.TB
	name  string
	cmd   *exec.Cmd
	stdin io.WriteCloser

	mu     sync.Mutex
	stdout bytes.Buffer
	stderr bytes.Buffer

	done    chan struct{}
	waitErr error
}

// lockedWriter appends to one of the proc's buffers under its lock.
type lockedWriter struct {
	p *proc
	b *bytes.Buffer
}

func (w lockedWriter) Write(b []byte) (int, error) {
	w.p.mu.Lock()
	defer w.p.mu.Unlock()
	return w.b.Write(b)
}

// startProc starts argv[0] with the rest as arguments. With withStdin the
// test writes the program's standard input; otherwise it reads nothing. The
// program is stopped when the test ends, and its output is logged if the
// test failed.
func startProc(t testing.TB, name string, withStdin bool, argv ...string) *proc {
	t.Helper()
	p := &proc{t: t, name: name, done: make(chan struct{})}
	p.cmd = exec.Command(argv[0], argv[1:]...)
	p.cmd.Stdout = lockedWriter{p, &p.stdout}
	p.cmd.Stderr = lockedWriter{p, &p.stderr}
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if withStdin {
		w, err := p.cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		p.stdin = w
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	go func() {
		p.waitErr = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			p.report()
		}
	})
	return p
}

// report logs what the program wrote.
func (p *proc) report() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.t.Logf("--- %s (%s)\nstdout:\n%s\nstderr:\n%s", p.name, strings.Join(p.cmd.Args, " "),
		tail(p.stdout.String(), 4000), tail(p.stderr.String(), 6000))
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// Stdout returns everything written to standard output so far.
func (p *proc) Stdout() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stdout.String()
}

// Stderr returns everything written to standard error so far.
func (p *proc) Stderr() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

// Output returns standard output and standard error.
func (p *proc) Output() string { return p.Stdout() + p.Stderr() }

// exited reports whether the program has ended.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// errExited means the program ended before writing what was awaited.
var errExited = errors.New("program exited")

// waitFor waits until the program's output (both streams) contains s.
func (p *proc) waitFor(s string, timeout time.Duration) error {
	return p.waitUntil(timeout, fmt.Sprintf("%q", s), func(out string) bool { return strings.Contains(out, s) })
}

// waitUntil waits until ok approves the program's output.
func (p *proc) waitUntil(timeout time.Duration, what string, ok func(out string) bool) error {
	deadline := time.Now().Add(timeout)
	for {
		if ok(p.Output()) {
			return nil
		}
		if p.exited() {
			if ok(p.Output()) {
				return nil
			}
			return fmt.Errorf("%s %w (%v) before writing %s", p.name, errExited, p.waitErr, what)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s wrote no %s within %v", p.name, what, timeout)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// write sends s to the program's standard input.
func (p *proc) write(s string) error {
	_, err := io.WriteString(p.stdin, s)
	return err
}

// closeStdin ends the program's standard input.
func (p *proc) closeStdin() {
	if p.stdin != nil {
		p.stdin.Close()
	}
}

// wait waits for the program to end and returns its exit code (-1 when it
// had to be killed).
func (p *proc) wait(timeout time.Duration) (int, error) {
	select {
	case <-p.done:
	case <-time.After(timeout):
		p.kill()
		return -1, fmt.Errorf("%s did not exit within %v", p.name, timeout)
	}
	return p.cmd.ProcessState.ExitCode(), nil
}

// kill ends the program's process group at once.
func (p *proc) kill() {
	if !p.exited() {
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	}
}

// stop asks the program to end (SIGTERM) and kills it after 5 seconds.
func (p *proc) stop() {
	if p.exited() {
		return
	}
	p.closeStdin()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		p.t.Logf("%s ignored SIGTERM for 5s; killing it", p.name)
		p.kill()
	}
}
