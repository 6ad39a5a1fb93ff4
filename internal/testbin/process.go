package testbin

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Process is a started program whose stdout and stderr are collected.
type Process struct {
	Cmd  *exec.Cmd
	out  Buffer
	done chan struct{}
}

// Start starts cmd with its stdout and stderr collected, and stops it when
// the test ends: SIGINT, then SIGKILL after 10 seconds. When the test has
// failed, the program's output is logged.
func Start(t testing.TB, cmd *exec.Cmd) *Process {
	t.Helper()
	p := &Process{Cmd: cmd, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = &p.out, &p.out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("%s logs:\n%s", filepath.Base(cmd.Path), p.Logs())
		}
	})
	return p
}

// Logs returns the program's output so far.
func (p *Process) Logs() string { return p.out.String() }

// Done is closed once the program has exited (and Cmd.ProcessState is set).
func (p *Process) Done() <-chan struct{} { return p.done }

// WaitLog waits for a line of the program's output that contains s and
// returns it, without its newline. The test fails if the program exits
// first or has not written such a line within 20 seconds. A line counts
// once it is complete (ends in a newline, or the program has exited), so
// that what follows s on it can be read.
func (p *Process) WaitLog(t testing.TB, s string) string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		exited := false
		select {
		case <-p.done: // the output is complete
			exited = true
		default:
		}
		logs := p.Logs()
		if line, ok := findLine(logs, s, exited); ok {
			return line
		}
		if exited {
			t.Fatalf("%s exited before logging %q:\n%s", p.Cmd.Path, s, logs)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not log %q:\n%s", p.Cmd.Path, s, logs)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// findLine returns the first line of logs that contains s, if that line
// is complete (or the last line, when last is set).
func findLine(logs, s string, last bool) (string, bool) {
	i := strings.Index(logs, s)
	if i < 0 {
		return "", false
	}
	start := strings.LastIndexByte(logs[:i], '\n') + 1
	end := strings.IndexByte(logs[i:], '\n')
	if end < 0 {
		if !last {
			return "", false
		}
		return logs[start:], true
	}
	return logs[start : i+end], true
}
