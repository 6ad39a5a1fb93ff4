// Package testbin helps tests run pi2pi's real programs: it builds them once
// per test process, starts them with their output collected, waits for a
// line in that output, and finds free loopback ports for them to listen on.
//
// It is for tests only: by convention only _test.go files import it (the
// linker leaves it out of the programs, which never import it).
package testbin

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// names are the programs' file names, by the directory of their main
// package relative to the module root; others take the directory's name.
var names = map[string]string{"./server/cmd/pi2pi-server": "pi2pi-server", "./daemon/cmd/pi2pid": "pi2pid", "./ctl/cmd/pi2pictl": "pi2pictl"}

var (
	mu     sync.Mutex
	binDir string
	builds = map[string]*build{}
)

type build struct {
	once sync.Once
	path string
	err  error
}

// Build returns the path of the program whose main package is dir, a
// directory relative to the module root such as "./server/cmd/pi2pi-server", building it on
// the first call in this process. The test fails if it does not build.
func Build(t testing.TB, dir string) string {
	t.Helper()
	path, err := Binary(dir)
	if err != nil {
		t.Fatal(err)
	}
	return path
}

// Binary is Build for callers that decide themselves what a failed build
// means (skip rather than fail, say). All the programs of a process are
// built into one directory, so filepath.Dir of one of them holds the
// others built so far; they are named as installed (pi2pi-server, pi2pid,
// pi2pictl).
func Binary(dir string) (string, error) {
	mu.Lock()
	b := builds[dir]
	if b == nil {
		b = &build{}
		builds[dir] = b
	}
	mu.Unlock()
	b.once.Do(func() { b.path, b.err = goBuild(dir) })
	return b.path, b.err
}

func goBuild(dir string) (string, error) {
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	mu.Lock()
	if binDir == "" {
		binDir, err = os.MkdirTemp("", "pi2pi-testbin")
	}
	out := binDir
	mu.Unlock()
	if err != nil {
		return "", err
	}
	name := names[dir]
	if name == "" {
		name = filepath.Base(dir)
	}
	path := filepath.Join(out, name)
	cmd := exec.Command("go", "build", "-o", path, dir)
	cmd.Dir = root
	if msg, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build %s: %v\n%s", dir, err, msg)
	}
	return path, nil
}

// moduleRoot is the directory of go.mod above the test's working directory
// (go test runs a test in its package's directory).
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("testbin: no go.mod above the working directory")
		}
		dir = parent
	}
}

// Cleanup removes the programs built so far. Call it at the end of
// TestMain, or use Main.
func Cleanup() {
	mu.Lock()
	defer mu.Unlock()
	if binDir != "" {
		os.RemoveAll(binDir)
		binDir = ""
		builds = map[string]*build{}
	}
}

// Main runs the tests and removes the programs they built:
//
//	func TestMain(m *testing.M) { testbin.Main(m) }
func Main(m *testing.M) {
	code := m.Run()
	Cleanup()
	os.Exit(code)
}

// Buffer is a bytes.Buffer that a program's output can be written to
// while the test reads it.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

// String returns everything written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// FreePort returns a TCP port that is free on every one of ips (loopback
// addresses such as 127.0.0.2) at the time of the call.
func FreePort(t testing.TB, ips ...string) int {
	t.Helper()
	for range 50 {
		l, err := net.Listen("tcp", ips[0]+":0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		ok := true
		var others []net.Listener
		for _, ip := range ips[1:] {
			o, err := net.Listen("tcp", fmt.Sprintf("%s:%d", ip, port))
			if err != nil {
				ok = false
				break
			}
			others = append(others, o)
		}
		l.Close()
		for _, o := range others {
			o.Close()
		}
		if ok {
			return port
		}
	}
	t.Fatal("no common free port")
	return 0
}

// SilentPeer listens on addr until the test ends, and takes every
// connection without ever answering, reading until the other side
// closes: a peer terminal that stopped (SIGSTOP, a hung machine).
func SilentPeer(t testing.TB, addr string) {
	t.Helper()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				_, _ = io.Copy(io.Discard, c) // until the caller closes
				c.Close()
			}()
		}
	}()
}
