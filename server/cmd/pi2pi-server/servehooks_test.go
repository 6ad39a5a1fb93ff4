package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pi2pi/pi2pi/internal/testbin"
	"github.com/pi2pi/pi2pi/internal/wire"
)

// The Windows service drives serve through its hooks instead of signals:
// ready once listening, a reload channel for ParamChange, and the context
// for Stop and Shutdown. This runs that path in-process.
func TestServeHooksReloadAndStop(t *testing.T) {
	dir := t.TempDir()
	users := filepath.Join(dir, "users")
	pi2piServer(t, "1234\n", "user", "add", "ali", "--users", users, "--state-dir", dir)
	c, _, err := parseServe([]string{"--listen", "127.0.0.1:0", "--users", users, "--state-dir", dir,
		"--security", "plain"}, func(string) string { return "" }, os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	var logs testbin.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	reload := make(chan struct{})
	ready := make(chan struct{})
	done := make(chan error, 1)
	go func() { done <- serve(ctx, c, &logs, reload, func() { close(ready) }) }()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("serve ended before it was ready: %v\n%s", err, logs.String())
	case <-time.After(20 * time.Second):
		t.Fatalf("serve never called ready:\n%s", logs.String())
	}
	addr := waitAddr(t, &logs)
	if st, err := login(addr, "127.0.0.2", "ali", "1234"); err != nil || st != wire.Granted {
		t.Fatalf("login: %s %v", st, err)
	}

	pi2piServer(t, "5678\n", "user", "add", "bianca", "--users", users, "--state-dir", dir)
	reload <- struct{}{}
	for i := 0; i < 250 && !strings.Contains(logs.String(), "users file loaded"); i++ {
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.Contains(logs.String(), "users=2") {
		t.Fatalf("the reload hook did not re-read the users file:\n%s", logs.String())
	}
	if st, _ := login(addr, "127.0.0.3", "bianca", "5678"); st != wire.Granted {
		t.Fatalf("bianca after reload: %s", st)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve after cancel: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not return after its context ended")
	}
	if !strings.Contains(logs.String(), "stopped") {
		t.Errorf("no stop logged:\n%s", logs.String())
	}
	b, err := os.ReadFile(filepath.Join(dir, sessionsFile))
	if err != nil || !strings.Contains(string(b), "ali") || !strings.Contains(string(b), "bianca") {
		t.Errorf("sessions not written at stop (%v): %q", err, b)
	}
}

// waitAddr returns the address from the "listening" log line.
func waitAddr(t *testing.T, logs *testbin.Buffer) string {
	t.Helper()
	for _, f := range strings.Fields(logs.String()) {
		if a, ok := strings.CutPrefix(f, "addr="); ok {
			return a
		}
	}
	t.Fatalf("no address logged:\n%s", logs.String())
	return ""
}
