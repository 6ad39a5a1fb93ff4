package notify

import (
	"context"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fakeSystemd listens on a unixgram NOTIFY_SOCKET and returns what arrives.
func fakeSystemd(t *testing.T) <-chan string {
	path := filepath.Join(t.TempDir(), "notify.sock")
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	t.Setenv("NOTIFY_SOCKET", path)
	ch := make(chan string, 16)
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := c.Read(buf)
			if err != nil {
				close(ch)
				return
			}
			ch <- string(buf[:n])
		}
	}()
	return ch
}

func recv(t *testing.T, ch <-chan string) string {
	select {
	case s := <-ch:
		return s
	case <-time.After(5 * time.Second):
		t.Fatal("no notification")
		return ""
	}
}

func TestNotify(t *testing.T) {
	ch := fakeSystemd(t)
	Ready("Logged out")
	if s := recv(t, ch); s != "READY=1\nSTATUS=Logged out" {
		t.Fatalf("%q", s)
	}
	Status("Chatting with bianca")
	if s := recv(t, ch); s != "STATUS=Chatting with bianca" {
		t.Fatalf("%q", s)
	}
	Stopping()
	if s := recv(t, ch); s != "STOPPING=1" {
		t.Fatalf("%q", s)
	}
}

func TestWatchdog(t *testing.T) {
	ch := fakeSystemd(t)
	t.Setenv("WATCHDOG_USEC", "100000")
	t.Setenv("WATCHDOG_PID", "")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { Watchdog(ctx); close(done) }()
	if s := recv(t, ch); !strings.Contains(s, "WATCHDOG=1") {
		t.Fatalf("%q", s)
	}
	cancel()
	<-done
	// Without WATCHDOG_USEC there is no timer at all: Watchdog returns.
	t.Setenv("WATCHDOG_USEC", "")
	Watchdog(context.Background())
}
