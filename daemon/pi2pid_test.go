package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pi2pi/pi2pi/internal/control"
)

// Whole-daemon tests: they build pi2pid (and pi2pi-server) and run them as
// the user would, on 127.0.0.2, 127.0.0.3, ... with the server on 127.0.0.1.

var (
	buildOnce sync.Once
	binDir    string
	buildErr  map[string]error
)

// binaries builds pi2pid and pi2pi-server once per test run.
func binaries(t testing.TB) string {
	buildOnce.Do(func() {
		buildErr = map[string]error{}
		var err error
		binDir, err = os.MkdirTemp("", "pi2pid-test-bin")
		if err != nil {
			buildErr["pi2pid"] = err
			return
		}
		for name, pkg := range map[string]string{"pi2pid": ".", "pi2pi-server": "../server"} {
			out, err := exec.Command("go", "build", "-o", filepath.Join(binDir, name), pkg).CombinedOutput()
			if err != nil {
				buildErr[name] = fmt.Errorf("%v\n%s", err, out)
			}
		}
	})
	if err := buildErr["pi2pid"]; err != nil {
		t.Fatalf("building pi2pid: %v", err)
	}
	return binDir
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

func needServer(t testing.TB) string {
	dir := binaries(t)
	if err := buildErr["pi2pi-server"]; err != nil {
		t.Skipf("pi2pi-server does not build yet, skipping the whole-system test: %v", err)
	}
	return filepath.Join(dir, "pi2pi-server")
}

// freePort finds a TCP port free on every given IP.
func freePort(t testing.TB, ips ...string) int {
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

// process is a started binary whose stderr is collected.
type process struct {
	cmd  *exec.Cmd
	mu   sync.Mutex
	logs bytes.Buffer
	done chan struct{}
}

func (p *process) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.logs.Write(b)
}

func (p *process) Logs() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.logs.String()
}

// waitLog waits until the process has logged s.
func (p *process) waitLog(t testing.TB, s string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(p.Logs(), s) {
		select {
		case <-p.done:
			t.Fatalf("%s exited before logging %q:\n%s", p.cmd.Path, s, p.Logs())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not log %q:\n%s", p.cmd.Path, s, p.Logs())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func start(t testing.TB, cmd *exec.Cmd) *process {
	t.Helper()
	p := &process{cmd: cmd, done: make(chan struct{})}
	cmd.Stderr = p
	cmd.Stdout = p
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

type pi2piServer struct {
	bin, addr, users, state string
}

// startServer starts a real pi2pi-server on 127.0.0.1 with users enrolled.
func startServer(t testing.TB, mode string, users map[string]string) *pi2piServer {
	bin := needServer(t)
	dir := t.TempDir()
	s := &pi2piServer{bin: bin, users: filepath.Join(dir, "users"), state: filepath.Join(dir, "state")}
	for name, digits := range users {
		cmd := exec.Command(bin, "user", "add", name, "--users", s.users, "--state-dir", s.state)
		cmd.Stdin = strings.NewReader(digits + "\n")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("user add %s: %v\n%s", name, err, out)
		}
	}
	s.addr = fmt.Sprintf("127.0.0.1:%d", freePort(t, "127.0.0.1"))
	p := start(t, exec.Command(bin, "serve", "--listen", s.addr, "--users", s.users, "--state-dir", s.state, "--security", mode))
	p.waitLog(t, "listening")
	return s
}

type daemon struct {
	*process
	ip, socket, stateDir string
}

// startDaemon starts pi2pid on ip:port with a console keypad.
func startDaemon(t testing.TB, server, ip string, port int, mode string, extra ...string) *daemon {
	bin := filepath.Join(binaries(t), "pi2pid")
	dir := t.TempDir()
	d := &daemon{ip: ip, socket: filepath.Join(dir, "control.sock"), stateDir: filepath.Join(dir, "state")}
	args := append([]string{"--server", server, "--listen", fmt.Sprintf("%s:%d", ip, port), "--control", d.socket,
		"--state-dir", d.stateDir, "--keypad", "console", "--security", mode, "--config", os.DevNull}, extra...)
	cmd := exec.Command(bin, args...)
	cmd.Env = cleanEnv()
	d.process = start(t, cmd)
	d.waitLog(t, "ready")
	return d
}

func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PI2PI_") && !strings.HasPrefix(kv, "LISTEN_") && !strings.HasPrefix(kv, "NOTIFY_SOCKET") {
			env = append(env, kv)
		}
	}
	return env
}

// user is one pi2pictl-like control connection.
type user struct {
	t  testing.TB
	c  *control.Client
	ev []control.Reply // events seen so far
}

func attach(t testing.TB, socket string) *user {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := control.Dial(ctx, socket)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &user{t: t, c: c}
}

func (u *user) call(req control.Request) (control.Reply, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	return u.c.Call(ctx, req)
}

func (u *user) must(req control.Request) control.Reply {
	u.t.Helper()
	r, err := u.call(req)
	if err != nil {
		u.t.Fatalf("%s: %v", req.Op, err)
	}
	return r
}

// next waits for the next event matching kind.
func (u *user) next(kind string) control.Reply {
	u.t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case ev, ok := <-u.c.Events():
			if !ok {
				u.t.Fatalf("connection closed waiting for %s: %v", kind, u.c.Err())
			}
			u.ev = append(u.ev, ev)
			if ev.Event == kind {
				return ev
			}
		case <-timeout:
			u.t.Fatalf("no %s event; saw %+v", kind, u.ev)
		}
	}
}

// logIn types the passcode on the console keypad, as pi2pictl login does.
func (u *user) logIn(name, digits string) {
	u.t.Helper()
	u.must(control.Request{Op: control.OpLogin, UserID: name})
	u.next(control.EventPasscode)
	for _, k := range digits + "A" {
		u.must(control.Request{Op: control.OpKey, Key: string(k)})
	}
	if ev := u.next(control.EventLogin); !ev.OK {
		u.t.Fatalf("login of %s failed: %s (%s)", name, ev.Error, ev.Code)
	}
}

// readText collects chat lines until want has arrived.
func (u *user) readText(want string) {
	u.t.Helper()
	var got strings.Builder
	for !strings.Contains(got.String(), want) {
		got.WriteString(u.next(control.EventLine).Text)
	}
}

func TestHelloAreYouThere(t *testing.T) {
	for _, mode := range []string{"plain", "secure"} {
		t.Run(mode, func(t *testing.T) {
			srv := startServer(t, mode, map[string]string{"ali": "1234", "bianca": "5678"})
			port := freePort(t, "127.0.0.2", "127.0.0.3")
			aliD := startDaemon(t, srv.addr, "127.0.0.2", port, mode)
			biancaD := startDaemon(t, srv.addr, "127.0.0.3", port, mode)

			ali := attach(t, aliD.socket)
			bianca := attach(t, biancaD.socket)
			ali.logIn("ali", "1234")
			bianca.logIn("bianca", "5678")
			bianca.must(control.Request{Op: control.OpWait})

			ali.must(control.Request{Op: control.OpChat, UserID: "bianca"})
			started := ali.next(control.EventChatStart)
			incoming := bianca.next(control.EventChatStart)
			if incoming.Peer != "ali" || incoming.Direction != "incoming" || started.Direction != "outgoing" {
				t.Fatalf("chat-start %+v / %+v", started, incoming)
			}
			if mode == "secure" && (started.SafetyCode == "" || started.SafetyCode != incoming.SafetyCode) {
				t.Fatalf("safety codes %q and %q", started.SafetyCode, incoming.SafetyCode)
			}
			ali.must(control.Request{Op: control.OpSend, Text: "Hello, are you there?\n"})
			bianca.readText("Hello, are you there?\n")
			bianca.must(control.Request{Op: control.OpSend, Text: "Yes, here I am!\n"})
			ali.readText("Yes, here I am!\n")
			ali.must(control.Request{Op: control.OpEnd})
			ali.next(control.EventChatEnd)
			if ev := bianca.next(control.EventChatEnd); ev.Error != "" {
				t.Fatalf("bianca's chat ended with %q", ev.Error)
			}
			for _, u := range []*user{ali, bianca} {
				st := u.must(control.Request{Op: control.OpStatus}).Status
				if st.State != "logged-in" {
					t.Fatalf("state after the chat: %+v", st)
				}
			}
			if mode == "secure" {
				v := ali.must(control.Request{Op: control.OpVerify, UserID: "bianca"})
				if v.SafetyCode != started.SafetyCode {
					t.Fatalf("verify gave %q, chat-start %q", v.SafetyCode, started.SafetyCode)
				}
			}
			// Never log chat text or passcodes.
			for _, d := range []*daemon{aliD, biancaD} {
				for _, secret := range []string{"are you there", "here I am", "1234", "5678"} {
					if strings.Contains(d.Logs(), secret) {
						t.Errorf("daemon logs contain %q", secret)
					}
				}
				if !strings.Contains(d.Logs(), "state logged-in -> ") {
					t.Errorf("no transition logged")
				}
			}
		})
	}
}

// Secure daemon against a plain server: a clear message, no fallback.
func TestSecureDaemonPlainServer(t *testing.T) {
	srv := startServer(t, "plain", map[string]string{"ali": "1234"})
	port := freePort(t, "127.0.0.2")
	d := startDaemon(t, srv.addr, "127.0.0.2", port, "secure")
	ali := attach(t, d.socket)
	ali.must(control.Request{Op: control.OpLogin, UserID: "ali"})
	ali.next(control.EventPasscode)
	for _, k := range "1234A" {
		ali.must(control.Request{Op: control.OpKey, Key: string(k)})
	}
	ev := ali.next(control.EventLogin)
	if ev.OK || !strings.Contains(ev.Error, "does not speak TLS; is it running with --security plain?") {
		t.Fatalf("login event %+v", ev)
	}
}

func TestMissingServerExits2(t *testing.T) {
	bin := filepath.Join(binaries(t), "pi2pid")
	cmd := exec.Command(bin, "--config", os.DevNull)
	cmd.Env = cleanEnv()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 {
		t.Fatalf("exit: %v", err)
	}
	if !strings.Contains(stderr.String(), "no server address") {
		t.Fatalf("stderr %q", stderr.String())
	}
}

// SIGTERM mid-chat: the peer sees a clean end, the daemon exits 0.
func TestSIGTERMEndsChatPolitely(t *testing.T) {
	srv := startServer(t, "secure", map[string]string{"ali": "1234", "bianca": "5678"})
	port := freePort(t, "127.0.0.2", "127.0.0.3")
	aliD := startDaemon(t, srv.addr, "127.0.0.2", port, "secure")
	biancaD := startDaemon(t, srv.addr, "127.0.0.3", port, "secure")
	ali, bianca := attach(t, aliD.socket), attach(t, biancaD.socket)
	ali.logIn("ali", "1234")
	bianca.logIn("bianca", "5678")
	bianca.must(control.Request{Op: control.OpWait})
	ali.must(control.Request{Op: control.OpChat, UserID: "bianca"})
	bianca.next(control.EventChatStart)
	if err := aliD.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if ev := bianca.next(control.EventChatEnd); ev.Error != "" {
		t.Fatalf("bianca's chat ended with %q, want a clean end", ev.Error)
	}
	select {
	case <-aliD.done:
	case <-time.After(10 * time.Second):
		t.Fatal("pi2pid did not exit after SIGTERM")
	}
	if code := aliD.cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	if !strings.Contains(aliD.Logs(), "stopped") {
		t.Fatalf("logs:\n%s", aliD.Logs())
	}
}
