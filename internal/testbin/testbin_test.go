package testbin

import (
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

func TestMain(m *testing.M) { Main(m) }

const sleeper = "./internal/testbin/testdata/sleeper"

func TestBuildOnceAndRun(t *testing.T) {
	var wg sync.WaitGroup
	paths := make([]string, 4)
	for i := range paths {
		wg.Go(func() { paths[i] = Build(t, sleeper) })
	}
	wg.Wait()
	for _, p := range paths[1:] {
		if p != paths[0] {
			t.Fatalf("built twice: %q and %q", paths[0], p)
		}
	}
	if filepath.Base(paths[0]) != "sleeper" {
		t.Errorf("binary named %q, want sleeper", paths[0])
	}
	p := Start(t, exec.Command(paths[0], "a", "b"))
	if line := p.WaitLog(t, "ready"); line != "sleeper ready" {
		t.Errorf("WaitLog(ready) = %q, want the whole line", line)
	}
	p.WaitLog(t, "[a b]")
	select {
	case <-p.Done():
		t.Fatal("exited early")
	default:
	}
}

func TestBuildFailure(t *testing.T) {
	if _, err := Binary("./internal/testbin/testdata/absent"); err == nil {
		t.Fatal("built a program that does not exist")
	}
}

func TestFreePort(t *testing.T) {
	ips := []string{"127.0.0.1", "127.0.0.2"}
	port := FreePort(t, ips...)
	for _, ip := range ips {
		l, err := net.Listen("tcp", fmt.Sprintf("%s:%d", ip, port))
		if err != nil {
			t.Fatalf("port %d not free on %s: %v", port, ip, err)
		}
		l.Close()
	}
}

func TestBuffer(t *testing.T) {
	var b Buffer
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() { fmt.Fprint(&b, "x"); _ = b.String() })
	}
	wg.Wait()
	if b.String() != "xxxxxxxxxx" {
		t.Fatalf("Buffer = %q", b.String())
	}
}

func TestFindLine(t *testing.T) {
	for _, c := range []struct {
		logs, s string
		last    bool
		want    string
		ok      bool
	}{
		{"a\nmsg=listening addr=1.2.3.4:5 x\nb\n", "addr=", false, "msg=listening addr=1.2.3.4:5 x", true},
		{"a\nmsg=listening addr=1.2.", "addr=", false, "", false},
		{"a\nmsg=listening addr=1.2.", "addr=", true, "msg=listening addr=1.2.", true},
		{"ready\n", "ready", false, "ready", true},
		{"nothing\n", "ready", true, "", false},
	} {
		if got, ok := findLine(c.logs, c.s, c.last); got != c.want || ok != c.ok {
			t.Errorf("findLine(%q, %q, %v) = %q, %v; want %q, %v", c.logs, c.s, c.last, got, ok, c.want, c.ok)
		}
	}
}
