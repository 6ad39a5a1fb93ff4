package main

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pi2pi/pi2pi/internal/control"
	"github.com/pi2pi/pi2pi/internal/testbin"
)

// TestConfigErrorAnswersWaitingClient: a socket-activated pi2pid without a
// server address exits 2, and the pi2pictl connection that started it gets
// the reason in its hello instead of a timeout; a waiting peer connection
// is closed rather than left queued (which would make systemd start the
// daemon again and again).
func TestConfigErrorAnswersWaitingClient(t *testing.T) {
	bin := testbin.Build(t, "./daemon/cmd/pi2pid")
	dir := t.TempDir()
	l := activationListeners(t, "127.0.0.1:0", dir)
	sock := l.sock
	// The clients connect first, as with socket activation.
	peer, err := net.Dial("tcp", l.peerL.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	type dialed struct {
		c   *control.Client
		err error
	}
	dc := make(chan dialed, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		c, err := control.Dial(ctx, sock)
		dc <- dialed{c, err}
	}()
	conf := filepath.Join(dir, "pi2pid.conf")
	if err := os.WriteFile(conf, []byte("keypad=console\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := l.command(bin, "--config", conf, "--state-dir", filepath.Join(dir, "state"))
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 2 {
		t.Fatalf("pi2pid without a server: %v, want exit status 2\n%s", err, out)
	}
	d := <-dc
	var ce *control.Error
	if !errors.As(d.err, &ce) || ce.Code != control.CodeConfig {
		t.Fatalf("control client got %v, want a %q error", d.err, control.CodeConfig)
	}
	for _, want := range []string{"no server address", conf} {
		if !strings.Contains(ce.Detail, want) {
			t.Errorf("detail %q does not say %q", ce.Detail, want)
		}
	}
	_ = peer.SetReadDeadline(time.Now().Add(time.Minute))
	if n, err := peer.Read(make([]byte, 1)); n != 0 || err == nil {
		t.Errorf("waiting peer connection: read %d bytes, %v; want it closed", n, err)
	}
}

func TestVersionFlag(t *testing.T) {
	var out, errb strings.Builder
	if code := run([]string{"--version"}, func(string) string { return "" }, &out, &errb); code != 0 || out.String() != "pi2pid "+version+"\n" {
		t.Fatalf("--version: exit %d, %q %q", code, out.String(), errb.String())
	}
}
