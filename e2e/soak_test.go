//go:build soak

package e2e

import (
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pi2pi/pi2pi/internal/control"
	"github.com/pi2pi/pi2pi/internal/wire"
)

// TestSoak (make soak; build tag soak, not in CI): 1,000 cycles of login,
// lookup and chat between two terminals, with random disconnects: a
// control client that vanishes mid-chat, a chat ended from either side, a
// half-open connection to a terminal, a logout. Afterwards the daemons and
// the server hold no more file descriptors and threads than after the
// warm-up, and this process no more goroutines.
func TestSoak(t *testing.T) {
	cycles := 1000
	if s := os.Getenv("PI2PI_SOAK_CYCLES"); s != "" {
		cycles, _ = strconv.Atoi(s)
	}
	srv := startServer(t, "secure", []string{"ali", "bianca"})
	ali, bianca := startTerminal(t, srv), startTerminal(t, srv)
	ali.login("ali")
	bianca.login("bianca")
	rng := rand.New(rand.NewPCG(1, 2))

	cycle := func(i int) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if i%100 == 99 { // logout and login again
			ali.logout()
			ali.login("ali")
		}
		if rep := directLookup(t, srv, ali, "bianca"); rep.Status != wire.Success {
			t.Fatalf("cycle %d: lookup of bianca: %+v", i, rep)
		}
		if rng.IntN(10) == 0 { // a half-open connection to bianca's port
			if c, err := dialRaw(ali.ip, bianca.listenAddr()); err == nil {
				c.Write([]byte(`{"msgtype":"CONNECTREQ"`))
				c.Close()
			}
		}
		in := attach(t, bianca)
		out := dialCtl(t, ali)
		if _, err := out.c.Call(ctx, control.Request{Op: control.OpChat, UserID: "bianca"}); err != nil {
			t.Fatalf("cycle %d: chat: %v", i, err)
		}
		if _, ok := in.next(control.EventChatStart, stepTimeout); !ok {
			t.Fatalf("cycle %d: bianca got no chat", i)
		}
		if _, ok := out.next(control.EventChatStart, stepTimeout); !ok {
			t.Fatalf("cycle %d: ali got no chat", i)
		}
		line := "cycle " + strconv.Itoa(i) + "\n"
		if _, err := out.s.Write([]byte(line)); err != nil {
			t.Fatalf("cycle %d: send: %v", i, err)
		}
		if got, err := readUntil(in.s, line); err != nil {
			t.Fatalf("cycle %d: bianca got %q: %v", i, got, err)
		}
		switch rng.IntN(3) {
		case 0: // ali's client vanishes mid-chat
			out.close()
			in.ended()
		case 1: // bianca ends it
			in.end()
			out.close()
		default: // ali ends it
			out.end()
			in.ended()
			out.close()
		}
		in.c.Close()
		// Wait until both terminals are back to logged-in.
		deadline := time.Now().Add(stepTimeout)
		for _, tm := range []*terminal{ali, bianca} {
			for tm.status().State != "logged-in" {
				if time.Now().After(deadline) {
					t.Fatalf("cycle %d: %s stuck in %s", i, tm.user, tm.status().State)
				}
				time.Sleep(5 * time.Millisecond)
			}
		}
	}

	const warmup = 20
	for i := range warmup {
		cycle(i)
	}
	procs := map[string]*proc{"server": srv.p, "ali": ali.p, "bianca": bianca.p}
	before := map[string][2]int{}
	for name, p := range procs {
		before[name] = [2]int{countFDs(t, p.pid()), countThreads(t, p.pid())}
	}
	goroutines := runtime.NumGoroutine()
	start := time.Now()
	for i := warmup; i < cycles; i++ {
		cycle(i)
		if i%100 == 0 {
			t.Logf("cycle %d, %v", i, time.Since(start).Round(time.Second))
		}
	}
	time.Sleep(500 * time.Millisecond) // let closing connections finish
	for name, p := range procs {
		fds, threads := countFDs(t, p.pid()), countThreads(t, p.pid())
		t.Logf("%s: fds %d → %d, threads %d → %d", name, before[name][0], fds, before[name][1], threads)
		if fds > before[name][0]+4 {
			t.Errorf("%s leaks file descriptors: %d after the warm-up, %d after %d cycles", name, before[name][0], fds, cycles)
		}
		if threads > before[name][1]+8 {
			t.Errorf("%s leaks threads: %d after the warm-up, %d after %d cycles", name, before[name][1], threads, cycles)
		}
	}
	if g := runtime.NumGoroutine(); g > goroutines+10 {
		t.Errorf("the test leaks goroutines: %d after the warm-up, %d at the end", goroutines, g)
	}
}

func countFDs(t testing.TB, pid int) int {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join("/proc", strconv.Itoa(pid), "fd"))
	if err != nil {
		t.Fatalf("counting fds of %d: %v", pid, err)
	}
	return len(ents)
}

func countThreads(t testing.TB, pid int) int {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join("/proc", strconv.Itoa(pid), "task"))
	if err != nil {
		t.Fatalf("counting threads of %d: %v", pid, err)
	}
	return len(ents)
}

// pid returns the program's process ID.
func (p *proc) pid() int { return p.cmd.Process.Pid }

// dialCtl connects to the terminal's control socket without attaching.
func dialCtl(t testing.TB, tm *terminal) *attachedReceiver {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), stepTimeout)
	defer cancel()
	c, err := control.Dial(ctx, tm.sock)
	if err != nil {
		t.Fatal(err)
	}
	return &attachedReceiver{t: t, c: c, sock: tm.sock}
}

// close drops the control connection and the data stream, as a pi2pictl
// that exits.
func (r *attachedReceiver) close() {
	r.c.Close()
	if r.s != nil {
		r.s.Close()
	}
}

// readUntil reads s until want has arrived.
func readUntil(s *control.Stream, want string) (string, error) {
	var got []byte
	buf := make([]byte, 4096)
	for !strings.Contains(string(got), want) {
		n, err := s.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil {
			return string(got), err
		}
	}
	return string(got), nil
}
