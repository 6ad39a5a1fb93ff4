package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pi2pi/pi2pi/internal/control"
	"github.com/pi2pi/pi2pi/internal/control/controltest"
	"github.com/pi2pi/pi2pi/internal/testbin"
)

// Whole-daemon tests: they build pi2pid (and pi2pi-server) and run them as
// the user would, on 127.0.0.2, 127.0.0.3, ... with the server on 127.0.0.1.

func TestMain(m *testing.M) { testbin.Main(m) }

// needServer builds pi2pi-server for the whole-system tests, which skip
// while it does not build.
func needServer(t testing.TB) string {
	bin, err := testbin.Binary("./server/cmd/pi2pi-server")
	if err != nil {
		t.Skipf("pi2pi-server does not build yet, skipping the whole-system test: %v", err)
	}
	return bin
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
	s.addr = fmt.Sprintf("127.0.0.1:%d", testbin.FreePort(t, "127.0.0.1"))
	p := testbin.Start(t, exec.Command(bin, "serve", "--listen", s.addr, "--users", s.users, "--state-dir", s.state, "--security", mode))
	p.WaitLog(t, "listening")
	return s
}

type daemon struct {
	*testbin.Process
	ip, socket, stateDir string
}

// startDaemon starts pi2pid on ip:port with a console keypad.
func startDaemon(t testing.TB, server, ip string, port int, mode string, extra ...string) *daemon {
	bin := testbin.Build(t, "./daemon/cmd/pi2pid")
	dir := t.TempDir()
	d := &daemon{ip: ip, socket: filepath.Join(dir, "control.sock"), stateDir: filepath.Join(dir, "state")}
	args := append([]string{"--server", server, "--listen", fmt.Sprintf("%s:%d", ip, port), "--control", d.socket,
		"--state-dir", d.stateDir, "--keypad", "console", "--security", mode, "--config", os.DevNull}, extra...)
	cmd := exec.Command(bin, args...)
	cmd.Env = cleanEnv()
	d.Process = testbin.Start(t, cmd)
	d.WaitLog(t, "ready")
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
type user = controltest.User

var attach = controltest.Attach

func TestHelloAreYouThere(t *testing.T) {
	for _, mode := range []string{"plain", "secure"} {
		t.Run(mode, func(t *testing.T) {
			srv := startServer(t, mode, map[string]string{"ali": "1234", "bianca": "5678"})
			port := testbin.FreePort(t, "127.0.0.2", "127.0.0.3")
			aliD := startDaemon(t, srv.addr, "127.0.0.2", port, mode)
			biancaD := startDaemon(t, srv.addr, "127.0.0.3", port, mode)

			ali := attach(t, aliD.socket)
			bianca := attach(t, biancaD.socket)
			ali.LogIn("ali", "1234")
			bianca.LogIn("bianca", "5678")
			bianca.Must(control.Request{Op: control.OpWait})

			ali.Must(control.Request{Op: control.OpChat, UserID: "bianca"})
			started := ali.Next(control.EventChatStart)
			incoming := bianca.Next(control.EventChatStart)
			if incoming.Peer != "ali" || incoming.Direction != "incoming" || started.Direction != "outgoing" {
				t.Fatalf("chat-start %+v / %+v", started, incoming)
			}
			if mode == "secure" && (started.SafetyCode == "" || started.SafetyCode != incoming.SafetyCode) {
				t.Fatalf("safety codes %q and %q", started.SafetyCode, incoming.SafetyCode)
			}
			if mode == "secure" {
				// During the chat, verify gives the chat's code.
				v := ali.Must(control.Request{Op: control.OpVerify, UserID: "bianca"})
				if v.SafetyCode != started.SafetyCode {
					t.Fatalf("verify gave %q, chat-start %q", v.SafetyCode, started.SafetyCode)
				}
			}
			ali.Send("Hello, are you there?\n")
			bianca.ReadText("Hello, are you there?\n")
			bianca.Send("Yes, here I am!\n")
			ali.ReadText("Yes, here I am!\n")
			ali.End()
			// bianca is asked to end (chat-ending, answered by Next as
			// pi2pictl does); then both sides end.
			if ev := bianca.Next(control.EventChatEnd); ev.Error != "" {
				t.Fatalf("bianca's chat ended with %q", ev.Error)
			}
			ali.Next(control.EventChatEnd)
			for _, u := range []*user{ali, bianca} {
				st := u.Must(control.Request{Op: control.OpStatus}).Status
				if st.State != "logged-in" {
					t.Fatalf("state after the chat: %+v", st)
				}
			}
			if mode == "secure" {
				// Outside a chat there is no code, only the fingerprints.
				v := ali.Must(control.Request{Op: control.OpVerify, UserID: "bianca"})
				if v.SafetyCode != "" || v.Status == nil || v.Status.PeerFingerprint == "" || v.Status.Fingerprint == "" {
					t.Fatalf("verify after the chat gave %+v", v)
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
	port := testbin.FreePort(t, "127.0.0.2")
	d := startDaemon(t, srv.addr, "127.0.0.2", port, "secure")
	ali := attach(t, d.socket)
	ali.Must(control.Request{Op: control.OpLogin, UserID: "ali"})
	ali.Next(control.EventPasscode)
	for _, k := range []control.Key{"1", "2", "3", "4", control.KeyEnter} {
		ali.Must(control.Request{Op: control.OpKey, Key: k})
	}
	ev := ali.Next(control.EventLogin)
	if ev.OK || ev.Code != control.CodeNotTLS {
		t.Fatalf("login event %+v", ev)
	}
}

func TestMissingServerExits2(t *testing.T) {
	bin := testbin.Build(t, "./daemon/cmd/pi2pid")
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
	port := testbin.FreePort(t, "127.0.0.2", "127.0.0.3")
	aliD := startDaemon(t, srv.addr, "127.0.0.2", port, "secure")
	biancaD := startDaemon(t, srv.addr, "127.0.0.3", port, "secure")
	ali, bianca := attach(t, aliD.socket), attach(t, biancaD.socket)
	ali.LogIn("ali", "1234")
	bianca.LogIn("bianca", "5678")
	bianca.Must(control.Request{Op: control.OpWait})
	ali.Must(control.Request{Op: control.OpChat, UserID: "bianca"})
	bianca.Next(control.EventChatStart)
	if err := aliD.Cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if ev := bianca.Next(control.EventChatEnd); ev.Error != "" {
		t.Fatalf("bianca's chat ended with %q, want a clean end", ev.Error)
	}
	select {
	case <-aliD.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("pi2pid did not exit after SIGTERM")
	}
	if code := aliD.Cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	if !strings.Contains(aliD.Logs(), "stopped") {
		t.Fatalf("logs:\n%s", aliD.Logs())
	}
}
