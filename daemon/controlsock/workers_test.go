package controlsock

import (
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/pi2pi/pi2pi/internal/control"
)

// workerGoroutines counts the goroutines serving or waiting in workers.run.
func workerGoroutines() int {
	buf := make([]byte, 1<<20)
	return strings.Count(string(buf[:runtime.Stack(buf, true)]), "controlsock.(*workers).run")
}

// waitWorkers waits until n worker goroutines are left.
func waitWorkers(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for workerGoroutines() != n {
		if time.Now().After(deadline) {
			t.Fatalf("%d worker goroutines, want %d", workerGoroutines(), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestWorkersServeInTurnAndEnd: connections one after another, and many
// at once, are each served (by a goroutine kept from an earlier one when
// one waits); at most IdleWorkers wait afterwards; they end when Serve
// returns, and when the server closes.
func TestWorkersServeInTurnAndEnd(t *testing.T) {
	for _, end := range []string{"listener closed", "server closed"} {
		t.Run(end, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "control.sock")
			l, err := net.Listen("unix", path)
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			s := &Server{Handler: &fakeHandler{}, Daemon: "test", Log: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))}
			done := make(chan struct{})
			go func() { _ = s.Serve(l); close(done) }()
			status := func(c *rawConn) {
				t.Helper()
				c.send(t, hello)
				if r := c.recv(t); r.Type != control.TypeHello {
					t.Fatalf("no hello: %+v", r)
				}
				c.send(t, `{"id":2,"op":"status"}`)
				if r := c.recv(t); r.ID != 2 || !r.OK {
					t.Fatalf("status: %+v", r)
				}
			}
			for range 20 {
				c := dialRaw(t, path)
				status(c)
				c.Close()
			}
			var many []*rawConn
			for range 10 {
				c := dialRaw(t, path)
				status(c)
				many = append(many, c)
			}
			for _, c := range many {
				c.Close()
			}
			waitWorkers(t, IdleWorkers)
			if end == "listener closed" {
				l.Close()
				<-done
				waitWorkers(t, 0)
				s.Close()
				return
			}
			s.Close()
			waitWorkers(t, 0)
			// A connection accepted now is closed, not served.
			c := dialRaw(t, path)
			_, _ = c.Write([]byte(hello + "\n")) // may find it closed already
			c.expectClosed(t)
			l.Close()
			<-done
		})
	}
}
