package main

import (
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pi2pi/pi2pi/internal/testbin"
)

// These tests drive the real programs: pi2pi-server, two pi2pid with the
// console keypad on loopback addresses, and pi2pictl through pipes, and
// check the transcripts of the initiator and the receiver.

// system is one server and the terminals started for a test.
type system struct {
	t        *testing.T
	bin      string
	dir      string
	security string
	server   string
}

func newSystem(t *testing.T, security string) *system {
	t.Helper()
	if testing.Short() {
		t.Skip("starts the real programs; skipped with -short")
	}
	for _, dir := range []string{"./server/cmd/pi2pi-server", "./daemon/cmd/pi2pid"} {
		testbin.Build(t, dir)
	}
	bin := filepath.Dir(testbin.Build(t, "./ctl/cmd/pi2pictl"))
	return &system{t: t, bin: bin, dir: t.TempDir(), security: security}
}

// start runs a program until the test ends and waits for its output to
// contain ready.
func (s *system) start(ready string, name string, args ...string) {
	s.t.Helper()
	p := testbin.Start(s.t, exec.Command(filepath.Join(s.bin, name), args...))
	p.WaitLog(s.t, ready)
}

// startServer adds the users and starts pi2pi-server on 127.0.0.1.
func (s *system) startServer(users map[string]string) {
	s.t.Helper()
	usersFile := filepath.Join(s.dir, "users")
	state := filepath.Join(s.dir, "server")
	for name, digits := range users {
		cmd := exec.Command(filepath.Join(s.bin, "pi2pi-server"), "user", "add", name, "--users", usersFile, "--state-dir", state)
		cmd.Stdin = strings.NewReader(digits + "\n")
		if out, err := cmd.CombinedOutput(); err != nil {
			s.t.Fatalf("pi2pi-server user add %s: %v\n%s", name, err, out)
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		s.t.Fatal(err)
	}
	s.server = l.Addr().String()
	l.Close()
	s.start("listening", "pi2pi-server", "serve", "--listen", s.server, "--users", usersFile,
		"--state-dir", state, "--security", s.security)
}

// freeTerminalIPs returns n loopback addresses whose port 8085 is free,
// starting at 127.0.0.2 (other tests may hold some at the same time).
func freeTerminalIPs(t *testing.T, n int) []string {
	var ips []string
	for i := 2; i < 250 && len(ips) < n; i++ {
		ip := fmt.Sprintf("127.0.0.%d", i)
		l, err := net.Listen("tcp", ip+":8085")
		if err != nil {
			continue
		}
		l.Close()
		ips = append(ips, ip)
	}
	if len(ips) < n {
		t.Fatal("no free loopback addresses with port 8085")
	}
	return ips
}

// startTerminal starts pi2pid on ip:8085 and returns its control socket.
func (s *system) startTerminal(ip string) string {
	s.t.Helper()
	sock := filepath.Join(s.dir, ip+".sock")
	s.start("ready", "pi2pid", "--server", s.server, "--listen", ip+":8085", "--control", sock,
		"--state-dir", filepath.Join(s.dir, ip), "--keypad", "console", "--security", s.security)
	return sock
}

// ctl is one pi2pictl run with stdin and stdout on pipes.
type ctl struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	mu     sync.Mutex
	out    strings.Builder
	stderr strings.Builder
	done   chan error
}

func (s *system) ctl(sock string, args ...string) *ctl {
	s.t.Helper()
	cmd := exec.Command(filepath.Join(s.bin, "pi2pictl"), append([]string{"--socket", sock}, args...)...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + s.dir}
	c := &ctl{cmd: cmd, done: make(chan error, 1)}
	var err error
	if c.stdin, err = cmd.StdinPipe(); err != nil {
		s.t.Fatal(err)
	}
	cmd.Stdout = writerFunc(func(p []byte) (int, error) {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.out.Write(p)
	})
	cmd.Stderr = writerFunc(func(p []byte) (int, error) {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.stderr.Write(p)
	})
	if err := cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	go func() { c.done <- cmd.Wait() }()
	s.t.Cleanup(func() { cmd.Process.Kill() })
	return c
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

func (c *ctl) stdout() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.out.String()
}

func (c *ctl) errors() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stderr.String()
}

func (c *ctl) type_(t *testing.T, s string) {
	t.Helper()
	if _, err := io.WriteString(c.stdin, s); err != nil {
		t.Fatal(err)
	}
}

func (c *ctl) waitFor(t *testing.T, s string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !strings.Contains(c.stdout(), s) {
		select {
		case err := <-c.done:
			c.done <- err
			if !strings.Contains(c.stdout(), s) {
				t.Fatalf("pi2pictl ended (%v) without %q; stdout:\n%s\nstderr:\n%s", err, s, c.stdout(), c.errors())
			}
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("pi2pictl never printed %q; stdout:\n%s\nstderr:\n%s", s, c.stdout(), c.errors())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// exit waits for pi2pictl to end and returns its exit code.
func (c *ctl) exit(t *testing.T) int {
	t.Helper()
	select {
	case err := <-c.done:
		c.done <- err
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0
	case <-time.After(20 * time.Second):
		t.Fatalf("pi2pictl did not end; stdout:\n%s\nstderr:\n%s", c.stdout(), c.errors())
		return -1
	}
}

// login runs printf 'USER\nDIGITS\n' | pi2pictl login.
func (s *system) login(t *testing.T, sock, user, digits string) {
	t.Helper()
	s.loginSaying(t, sock, user, digits, "")
}

// loginSaying is login that expects more lines after "Logged in.".
func (s *system) loginSaying(t *testing.T, sock, user, digits, more string) {
	t.Helper()
	c := s.ctl(sock, "login")
	c.type_(t, user+"\n"+digits+"\n")
	c.stdin.Close()
	if code := c.exit(t); code != 0 {
		t.Fatalf("login %s: exit %d\n%s\n%s", user, code, c.stdout(), c.errors())
	}
	want := "Login: " + user + "\nEnter passcode on keypad.\nLogged in.\n" + more
	if got := c.stdout(); got != want {
		t.Fatalf("login %s printed:\n%q\nwant\n%q", user, got, want)
	}
}

var safetyLine = regexp.MustCompile(`(?m)^Safety code: ([0-9 ]+) \(compare it with (\w+) by voice\)$`)

func testSystemChat(t *testing.T, security string) {
	s := newSystem(t, security)
	s.startServer(map[string]string{"ali": "1234", "bianca": "5678"})
	ips := freeTerminalIPs(t, 2)
	aliSock, biancaSock := s.startTerminal(ips[0]), s.startTerminal(ips[1])

	// A wrong passcode is refused in words.
	bad := s.ctl(aliSock, "login")
	bad.type_(t, "ali\n9999\n")
	bad.stdin.Close()
	if code := bad.exit(t); code != 1 || !strings.Contains(bad.errors(), "Login refused") {
		t.Fatalf("wrong passcode: exit %d, stderr %q", code, bad.errors())
	}

	// The real server counted the wrong passcode, and pi2pictl says so.
	s.loginSaying(t, aliSock, "ali", "1234", "There was 1 failed login attempt since your last login.\n")
	s.login(t, biancaSock, "bianca", "5678")

	receiver := s.ctl(biancaSock, "wait")
	var initiator *ctl
	for try := 0; ; try++ {
		initiator = s.ctl(aliSock, "chat", "bianca")
		select {
		case <-initiator.done:
			// bianca's wait may not be attached yet: "away".
			if try < 50 && strings.Contains(initiator.errors(), "away") {
				time.Sleep(100 * time.Millisecond)
				continue
			}
			t.Fatalf("chat ended at once: %s", initiator.errors())
		case <-time.After(300 * time.Millisecond):
		}
		break
	}
	initiator.waitFor(t, "Connection established, type your messages\n")
	receiver.waitFor(t, "Connection received from user ali, type your messages\n")

	initiator.type_(t, "Hello, how are you today?\n")
	receiver.waitFor(t, "Hello, how are you today?\n")
	receiver.type_(t, "I am fine, how about you?\n")
	initiator.waitFor(t, "I am fine, how about you?\n")
	initiator.type_(t, "I am well. Goodbye.\n")
	initiator.stdin.Close() // EOF ends the chat once everything was sent

	if code := initiator.exit(t); code != 0 {
		t.Fatalf("initiator exit %d: %s", code, initiator.errors())
	}
	if code := receiver.exit(t); code != 0 {
		t.Fatalf("receiver exit %d: %s", code, receiver.errors())
	}

	aliOut, biancaOut := initiator.stdout(), receiver.stdout()
	if security == "secure" {
		a, b := safetyLine.FindStringSubmatch(aliOut), safetyLine.FindStringSubmatch(biancaOut)
		if a == nil || b == nil || a[1] != b[1] || a[2] != "bianca" || b[2] != "ali" {
			t.Fatalf("safety codes differ or are missing:\nali:\n%s\nbianca:\n%s", aliOut, biancaOut)
		}
		aliOut = safetyLine.ReplaceAllString(aliOut, "")
		biancaOut = safetyLine.ReplaceAllString(biancaOut, "")
		aliOut, biancaOut = strings.Replace(aliOut, "\n\n", "\n", 1), strings.Replace(biancaOut, "\n\n", "\n", 1)
	}
	wantAli := "Connection established, type your messages\n" +
		"I am fine, how about you?\n" +
		"Connection ended\n"
	wantBianca := "Connection received from user ali, type your messages\n" +
		"Hello, how are you today?\n" +
		"I am well. Goodbye.\n" +
		"Connection ended\n"
	if aliOut != wantAli {
		t.Errorf("initiator transcript:\n%s\nwant:\n%s", aliOut, wantAli)
	}
	if biancaOut != wantBianca {
		t.Errorf("receiver transcript:\n%s\nwant:\n%s", biancaOut, wantBianca)
	}

	// Nobody waits at bianca's terminal now: a chat is refused as away.
	again := s.ctl(aliSock, "chat", "bianca")
	again.stdin.Close()
	if code := again.exit(t); code != 1 || !strings.Contains(again.errors(), "away") {
		t.Errorf("chat without a receiver: exit %d, stderr %q", code, again.errors())
	}
	// Nobody is logged in as carol.
	nobody := s.ctl(aliSock, "chat", "carol")
	nobody.stdin.Close()
	if code := nobody.exit(t); code != 1 || !strings.Contains(nobody.errors(), "carol is not logged in") {
		t.Errorf("chat with carol: exit %d, stderr %q", code, nobody.errors())
	}
}

func TestSystemChatPlain(t *testing.T)  { testSystemChat(t, "plain") }
func TestSystemChatSecure(t *testing.T) { testSystemChat(t, "secure") }
