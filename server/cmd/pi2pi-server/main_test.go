package main

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pi2pi/pi2pi/internal/credential"
	"github.com/pi2pi/pi2pi/internal/testbin"
	"github.com/pi2pi/pi2pi/internal/wire"
	"github.com/pi2pi/pi2pi/server/guard"
	"github.com/pi2pi/pi2pi/server/userstore"
)

// binary is pi2pi-server, built once for the whole run.
var binary string

func TestMain(m *testing.M) {
	var err error
	if binary, err = testbin.Binary("./server/cmd/pi2pi-server"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	testbin.Main(m)
}

// pi2piServer runs the binary to completion.
func pi2piServer(t *testing.T, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return o.String(), e.String(), code
}

// server is a running pi2pi-server; its Logs are its stderr.
type server struct {
	*testbin.Process
	addr string
}

// start runs `pi2pi-server ARGS --listen 127.0.0.1:PORT` and waits for "listening".
func start(t *testing.T, listen string, args ...string) *server {
	t.Helper()
	if listen == "" {
		listen = "127.0.0.1:0"
	}
	s := &server{Process: testbin.Start(t, exec.Command(binary, append(args, "--listen", listen)...))}
	_, after, _ := strings.Cut(s.WaitLog(t, "msg=listening addr="), "msg=listening addr=")
	f := strings.Fields(after)
	if len(f) == 0 {
		t.Fatalf("server logged no address:\n%s", s.Logs())
	}
	s.addr = f[0]
	return s
}

// kill stops the server at once, as a crash would.
func (s *server) kill() {
	_ = s.Cmd.Process.Signal(syscall.SIGKILL)
	<-s.Done()
}

func TestProbePassesAgainstServeAndDummy(t *testing.T) {
	dir := t.TempDir()
	users := filepath.Join(dir, "users")
	if _, e, code := pi2piServer(t, "2468\n", "user", "add", "prober", "--users", users, "--state-dir", dir); code != 0 {
		t.Fatalf("user add: %s", e)
	}
	t.Run("serve secure", func(t *testing.T) {
		s := start(t, "", "serve", "--users", users, "--state-dir", dir)
		fp, _, _ := pi2piServer(t, "", "fingerprint", "--state-dir", dir)
		out, e, code := pi2piServer(t, "", "probe", s.addr, "--user", "prober", "--passcode", "2468",
			"--server-fingerprint", strings.TrimSpace(fp))
		if code != 0 || !strings.Contains(out, " 0 failed, 0 skipped\n") {
			t.Fatalf("probe exit %d:\n%s%s\nserver:\n%s", code, out, e, s.Logs())
		}
		if !strings.Contains(s.Logs(), "refused a plain-text client on a secure server") {
			t.Errorf("no log line for the plain-text client:\n%s", s.Logs())
		}
		// The wrong pinned key fails every check.
		if _, _, code := pi2piServer(t, "", "probe", s.addr, "--user", "prober", "--passcode", "2468",
			"--server-fingerprint", "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "--timeout", "2s"); code != 1 {
			t.Errorf("probe with a wrong fingerprint exited %d, want 1", code)
		}
		s.kill()
	})
	t.Run("serve plain", func(t *testing.T) {
		s := start(t, "", "serve", "--users", users, "--state-dir", dir, "--security", "plain")
		if !strings.Contains(s.Logs(), "plain mode") {
			t.Errorf("no warning about plain mode:\n%s", s.Logs())
		}
		out, e, code := pi2piServer(t, "", "probe", s.addr, "--user", "prober", "--passcode", "2468", "--security", "plain")
		if code != 0 || !strings.Contains(out, " 0 failed, 0 skipped\n") {
			t.Fatalf("probe exit %d:\n%s%s\nserver:\n%s", code, out, e, s.Logs())
		}
		s.kill()
	})
	t.Run("dummy", func(t *testing.T) {
		s := start(t, "", "dummy")
		out, e, code := pi2piServer(t, "", "probe", s.addr, "--security", "plain", "--course")
		if code != 0 || !strings.Contains(out, "course 3: LOOKUPREQ ali→bianca is SUCCESS") || !strings.Contains(out, " 0 failed, 0 skipped\n") {
			t.Fatalf("probe exit %d:\n%s%s", code, out, e)
		}
		// The dummy is not our directory: probing it as one fails, non-zero.
		out, _, code = pi2piServer(t, "", "probe", s.addr, "--security", "plain", "--user", "carol", "--passcode", "1")
		if code != 1 || !strings.Contains(out, "FAIL") {
			t.Fatalf("probe of a wrong server exited %d:\n%s", code, out)
		}
	})
}

func TestUserCommands(t *testing.T) {
	dir := t.TempDir()
	users := filepath.Join(dir, "users")
	f := []string{"--users", users, "--state-dir", dir}
	run := func(stdin string, want int, args ...string) (string, string) {
		t.Helper()
		o, e, code := pi2piServer(t, stdin, append(args, f...)...)
		if code != want {
			t.Fatalf("%v: exit %d, want %d\n%s%s", args, code, want, o, e)
		}
		return o, e
	}
	run("1234\n", 0, "user", "add", "Ali")
	_, e := run("1234\n", 1, "user", "add", "ali")
	if !strings.Contains(e, "already exists") {
		t.Errorf("second add: %s", e)
	}
	run("", 0, "user", "add", "course", "--credential", "0023dc6bc244d474d2237ab53d256430b14eabe6db")
	run("12a4\n", 1, "user", "add", "bad")
	run("", 1, "user", "add", "nostdin")
	run("1\n", 2, "user", "add", "no spaces")
	run("", 2, "user", "frobnicate", "x")
	run("9876\n", 0, "user", "passwd", "ali")
	run("", 0, "user", "del", "course")
	run("", 1, "user", "del", "course")
	out, _ := run("", 0, "user", "list")
	if out != "ali\tok\tkey not set\n" {
		t.Errorf("user list = %q", out)
	}
	data, _ := os.ReadFile(users)
	for _, secret := range []string{"1234", "9876", credential.FromDigits("ali", []byte("9876"))} {
		if strings.Contains(string(data), secret) {
			t.Errorf("users file holds %q in clear", secret)
		}
	}
	if fi, _ := os.Stat(filepath.Join(dir, "pepper")); fi == nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("pepper missing or not 0600")
	}
	fp1, _, _ := pi2piServer(t, "", "fingerprint", "--state-dir", dir)
	fp2, _, _ := pi2piServer(t, "", "fingerprint", "--state-dir", dir)
	if !strings.HasPrefix(fp1, "SHA256:") || fp1 != fp2 {
		t.Errorf("fingerprint %q then %q", fp1, fp2)
	}
}

// login sends one AUTHREQ in plain mode and returns the status.
func login(addr, from, user, digits string) (string, error) {
	d := net.Dialer{Timeout: 2 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if err := wire.Write(c, wire.Message{Type: wire.AuthReq, UserID: user, Passcode: credential.FromDigits(user, []byte(digits))}); err != nil {
		return "", err
	}
	m, err := wire.NewDecoder(c).Decode()
	return m.Status, err
}

// TestSIGKILLKeepsUsersSessionsAndCounters adds users and logs them in
// while the server is SIGKILLed again and again (and some `user add`
// processes too), then checks that everything acknowledged survived.
func TestSIGKILLKeepsUsersSessionsAndCounters(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: SIGKILL loop")
	}
	dir := t.TempDir()
	users := filepath.Join(dir, "users")
	args := []string{"serve", "--users", users, "--state-dir", dir, "--security", "plain"}
	s := start(t, "", args...)
	addr := s.addr

	added := map[string]bool{}   // user add exited 0
	granted := map[string]bool{} // GRANTED received
	failures := map[string]int{} // REFUSED received for a wrong passcode
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 24 && ctx.Err() == nil; i++ {
		name := fmt.Sprintf("user%d", i)
		cmd := exec.Command(binary, "user", "add", name, "--users", users, "--state-dir", dir)
		cmd.Stdin = strings.NewReader("1357\n")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		if i%5 == 4 {
			// Kill some `user add` mid-way: the file must stay whole.
			time.Sleep(time.Duration(rng.IntN(30)) * time.Millisecond)
			_ = cmd.Process.Signal(syscall.SIGKILL)
			if cmd.Wait() == nil {
				added[name] = true
			}
			continue
		}
		if cmd.Wait() != nil {
			t.Fatalf("user add %s failed", name)
		}
		added[name] = true
		var wg sync.WaitGroup
		var mu sync.Mutex
		for _, try := range []struct {
			digits string
			ok     bool
		}{{"1357", true}, {"0000", false}, {"1111", false}} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				// One address per user: the per-source limit stays out of the way.
				st, err := login(addr, fmt.Sprintf("127.0.5.%d", 1+i), name, try.digits)
				if err != nil {
					return // killed before answering: no promise made
				}
				mu.Lock()
				defer mu.Unlock()
				switch {
				case try.ok && st == wire.Granted:
					granted[name] = true
				case !try.ok && st == wire.Refused:
					failures[name]++
				}
			}()
		}
		time.Sleep(time.Duration(rng.IntN(60)) * time.Millisecond)
		if i%3 == 2 {
			s.kill()
			wg.Wait()
			s = start(t, addr, args...)
		}
		wg.Wait()
	}
	s.kill()

	// The users file is whole and holds every acknowledged user.
	got, err := userstore.ReadFile(users)
	if err != nil {
		t.Fatalf("users file damaged: %v", err)
	}
	for name := range added {
		if _, ok := got[name]; !ok {
			t.Errorf("user %s was added but is missing", name)
		}
	}
	// Sessions: every GRANTED login is still logged in after a restart.
	s = start(t, addr, args...)
	for name := range granted {
		var i int
		fmt.Sscanf(name, "user%d", &i)
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(fmt.Sprintf("127.0.5.%d", 1+i))}}
		c, err := d.Dial("tcp", s.addr)
		if err != nil {
			t.Fatal(err)
		}
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		wire.Write(c, wire.Message{Type: wire.LookupReq, UserID: name, Lookup: name})
		m, err := wire.NewDecoder(c).Decode()
		c.Close()
		if err != nil || m.Status != wire.Success {
			t.Errorf("%s was granted but is not logged in after restarts: %+v %v", name, m, err)
		}
	}
	s.kill()
	// Counters: every acknowledged failure is recorded; a success does
	// not reset the count.
	accounts, err := guard.ReadFile(filepath.Join(dir, "failures"))
	if err != nil {
		t.Fatalf("counters file damaged: %v", err)
	}
	checked := 0
	for name, n := range failures {
		if a := accounts[name]; a == nil || a.Failures < n {
			t.Errorf("%s: %d failures acknowledged, %v recorded", name, n, a)
		}
		checked++
	}
	if len(granted) == 0 || len(failures) == 0 {
		t.Fatalf("the test logged in nobody (%d granted, %d with failures)", len(granted), len(failures))
	}
	t.Logf("%d users added, %d granted, %d with counted failures (%d checked)", len(added), len(granted), len(failures), checked)
}

func TestSIGHUPReloadsUsersKeepingSessions(t *testing.T) {
	dir := t.TempDir()
	users := filepath.Join(dir, "users")
	pi2piServer(t, "1234\n", "user", "add", "ali", "--users", users, "--state-dir", dir)
	s := start(t, "", "serve", "--users", users, "--state-dir", dir, "--security", "plain")
	if st, err := login(s.addr, "127.0.0.2", "ali", "1234"); err != nil || st != wire.Granted {
		t.Fatalf("login: %s %v", st, err)
	}
	pi2piServer(t, "5678\n", "user", "add", "bianca", "--users", users, "--state-dir", dir)
	if err := s.Cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 100 && strings.Count(s.Logs(), "users file loaded") == 0; i++ {
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.Contains(s.Logs(), "users file loaded") || !strings.Contains(s.Logs(), "users=2") {
		t.Fatalf("no reload logged:\n%s", s.Logs())
	}
	if st, _ := login(s.addr, "127.0.0.3", "bianca", "5678"); st != wire.Granted {
		t.Fatalf("bianca after reload: %s", st)
	}
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}}
	c, err := d.Dial("tcp", s.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	wire.Write(c, wire.Message{Type: wire.LookupReq, UserID: "ali", Lookup: "bianca"})
	if m, err := wire.NewDecoder(c).Decode(); err != nil || m.Status != wire.Success || m.Address != "127.0.0.3" {
		t.Fatalf("ali's session did not survive the reload: %+v %v", m, err)
	}
	if strings.Contains(s.Logs(), credential.FromDigits("ali", []byte("1234"))) {
		t.Error("a passcode reached the log")
	}
}
