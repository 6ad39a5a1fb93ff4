package e2e

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pi2pi/pi2pi/internal/control"
	"github.com/pi2pi/pi2pi/internal/credential"
)

// The binaries under test, built once in TestMain.
var (
	serverBin, daemonBin, ctlBin string
	buildErr                     error
)

// allowUnbuilt lets the tests skip instead of fail when a binary does not
// build: for working on the tests while the programs are being written.
var allowUnbuilt = os.Getenv("PI2PI_E2E_ALLOW_UNBUILT") != ""

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "pi2pi-e2e-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	serverBin = filepath.Join(dir, "pi2pi-server")
	daemonBin = filepath.Join(dir, "pi2pid")
	ctlBin = filepath.Join(dir, "pi2pictl")
	buildErr = buildAll(map[string]string{"./server/cmd/pi2pi-server": serverBin, "./daemon/cmd/pi2pid": daemonBin, "./ctl/cmd/pi2pictl": ctlBin})
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// buildAll builds each package into its binary, in parallel.
func buildAll(targets map[string]string) error {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []string
	)
	for pkg, out := range targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			args := []string{"build", "-o", out}
			if os.Getenv("PI2PI_E2E_RACE") != "" {
				args = append(args, "-race")
			}
			cmd := exec.Command("go", append(args, pkg)...)
			cmd.Dir = ".."
			if b, err := cmd.CombinedOutput(); err != nil {
				mu.Lock()
				errs = append(errs, fmt.Sprintf("go build %s: %v\n%s", pkg, err, b))
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "\n"))
	}
	return nil
}

// needBinaries fails the test when the programs did not build.
func needBinaries(t testing.TB) {
	t.Helper()
	if buildErr == nil {
		return
	}
	if allowUnbuilt {
		t.Skipf("binaries not built (PI2PI_E2E_ALLOW_UNBUILT set): %v", buildErr)
	}
	t.Fatalf("building the programs failed:\n%v", buildErr)
}

// passcodes are the keypad digits of the test users.
var passcodes = map[string]string{
	"ali":     "1234",
	"bianca":  "5678",
	"carol":   "2468",
	"dave":    "1357",
	"mallory": "9999",
}

// Timeouts for things that happen at once on a quiet machine but may wait
// behind other work on a busy CI runner.
const (
	startTimeout = 15 * time.Second
	stepTimeout  = 10 * time.Second
)

// ---------------------------------------------------------------- addresses

// lastHost hands out terminal addresses 127.0.X.Y so that terminals of tests
// running in parallel never share an address (each listens on port 8085).
// Each test process starts in its own block, chosen by its pid, so that
// test processes running at the same time (go test ./... runs packages in
// parallel; several checkouts may test at once) do not collide either.
var lastHost = func() *atomic.Uint32 {
	var n atomic.Uint32
	n.Store(uint32(os.Getpid()%200) * 250)
	return &n
}()

// nextIP returns a loopback address no other terminal uses: port 8085 on
// it is free. It stays clear of 127.0.0.x, the addresses of `make demo`
// (127.0.0.2 and .3), which may be running beside the tests.
func nextIP() string {
	for {
		n := lastHost.Add(1) - 1
		ip := fmt.Sprintf("127.0.%d.%d", (n/250)%250+1, n%250+1)
		if l, err := net.Listen("tcp", ip+":8085"); err == nil {
			l.Close()
			return ip
		}
	}
}

func mustAddr(ip string) netip.Addr { return netip.MustParseAddr(ip) }

// shortDir makes a temporary directory with a short path (Unix socket paths
// are limited to 108 bytes), removed when the test ends.
func shortDir(t testing.TB, prefix string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// ------------------------------------------------------------------- server

// server is a pi2pi-server under test.
type server struct {
	t        testing.TB
	mode     string
	addr     string // filled in once it listens
	stateDir string
	users    string
	extra    []string
	wrap     []string // command prefix, e.g. ip netns exec NS
	p        *proc
}

// serverOption changes how startServer starts the server.
type serverOption func(*server)

// withServerArgs adds command-line flags to `pi2pi-server serve`.
func withServerArgs(args ...string) serverOption {
	return func(s *server) { s.extra = append(s.extra, args...) }
}

// withServerAddr makes the server listen on addr instead of a free port.
func withServerAddr(addr string) serverOption { return func(s *server) { s.addr = addr } }

// inNamespace runs the server inside a network namespace.
func inNamespace(ns string) serverOption {
	return func(s *server) { s.wrap = []string{"ip", "netns", "exec", ns} }
}

// startServer enrols the users (with their passcodes from the table) and
// starts a server in mode "secure" or "plain".
func startServer(t testing.TB, mode string, users []string, opts ...serverOption) *server {
	t.Helper()
	needBinaries(t)
	dir := shortDir(t, "srv")
	s := &server{
		t:        t,
		mode:     mode,
		addr:     "127.0.0.1:0",
		stateDir: filepath.Join(dir, "state"),
		users:    filepath.Join(dir, "users"),
	}
	for _, o := range opts {
		o(s)
	}
	for _, u := range users {
		s.addUser(u, passcodes[u])
	}
	s.start()
	return s
}

// addUser enrols name with keypad digits, as an admin would.
func (s *server) addUser(name, digits string) {
	s.t.Helper()
	s.runUserCmd(digits+"\n", "user", "add", name, "--users", s.users, "--state-dir", s.stateDir)
}

// addCredential enrols name with the exact credential string a foreign
// terminal sends.
func (s *server) addCredential(name, cred string) {
	s.t.Helper()
	s.runUserCmd("", "user", "add", name, "--users", s.users, "--state-dir", s.stateDir, "--credential", cred)
}

func (s *server) runUserCmd(stdin string, args ...string) {
	s.t.Helper()
	cmd := exec.Command(serverBin, args...)
	cmd.Stdin = strings.NewReader(stdin)
	if out, err := cmd.CombinedOutput(); err != nil {
		s.t.Fatalf("pi2pi-server %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

var addrRE = regexp.MustCompile(`\d+\.\d+\.\d+\.\d+:\d+`)

// start runs the server and waits until it listens.
func (s *server) start() {
	s.t.Helper()
	argv := append(append([]string{}, s.wrap...), serverBin, "serve",
		"--listen", s.addr, "--users", s.users, "--state-dir", s.stateDir, "--security", s.mode)
	argv = append(argv, s.extra...)
	s.p = startProc(s.t, "pi2pi-server", false, argv...)
	var line string
	err := s.p.waitUntil(startTimeout, `"listening" with an address`, func(out string) bool {
		for _, l := range strings.Split(out, "\n") {
			if strings.Contains(l, "listening") && addrRE.MatchString(l) {
				line = l
				return true
			}
		}
		return false
	})
	if err != nil {
		s.t.Fatalf("server did not start: %v", err)
	}
	if strings.HasSuffix(s.addr, ":0") {
		s.addr = addrRE.FindString(line)
	}
}

// stop ends the server.
func (s *server) stop() { s.p.stop() }

// restart stops the server and starts it again on the same address with the
// same state.
func (s *server) restart() {
	s.t.Helper()
	s.stop()
	s.start()
}

// fingerprint returns the server's key fingerprint.
func (s *server) fingerprint() string {
	s.t.Helper()
	out, err := exec.Command(serverBin, "fingerprint", "--state-dir", s.stateDir).Output()
	if err != nil {
		s.t.Fatalf("pi2pi-server fingerprint: %v", err)
	}
	fp := strings.TrimSpace(string(out))
	if !strings.HasPrefix(fp, "SHA256:") {
		s.t.Fatalf("pi2pi-server fingerprint printed %q", fp)
	}
	return fp
}

// ----------------------------------------------------------------- terminal

// terminal is a pi2pid with its own address, state and control socket.
type terminal struct {
	t        testing.TB
	ip       string
	port     int    // peer port, 8085 unless told
	server   string // HOST:PORT the daemon asks
	mode     string
	stateDir string
	sock     string
	extra    []string
	wrap     []string
	p        *proc
	user     string // logged-in user, once login succeeded
}

// terminalOption changes how startTerminal starts the daemon.
type terminalOption func(*terminal)

// withDaemonArgs adds command-line flags to pi2pid.
func withDaemonArgs(args ...string) terminalOption {
	return func(tm *terminal) { tm.extra = append(tm.extra, args...) }
}

// atIP makes the terminal listen on ip instead of the next free loopback
// address.
func atIP(ip string) terminalOption { return func(tm *terminal) { tm.ip = ip } }

// listenPort makes the terminal take chats on another port than 8085 (a
// proxy then sits on 8085; the terminal would also call others on it).
func listenPort(port int) terminalOption { return func(tm *terminal) { tm.port = port } }

// viaServer makes the terminal ask addr (a proxy, say) instead of the server.
func viaServer(addr string) terminalOption { return func(tm *terminal) { tm.server = addr } }

// terminalInNamespace runs the daemon inside a network namespace.
func terminalInNamespace(ns string) terminalOption {
	return func(tm *terminal) { tm.wrap = []string{"ip", "netns", "exec", ns} }
}

// startTerminal starts a pi2pid with a console keypad that uses srv.
func startTerminal(t testing.TB, srv *server, opts ...terminalOption) *terminal {
	t.Helper()
	needBinaries(t)
	dir := shortDir(t, "term")
	tm := &terminal{
		t:        t,
		server:   srv.addr,
		mode:     srv.mode,
		port:     8085,
		stateDir: filepath.Join(dir, "state"),
		sock:     filepath.Join(dir, "control.sock"),
	}
	for _, o := range opts {
		o(tm)
	}
	if tm.ip == "" {
		tm.ip = nextIP()
	}
	tm.start()
	return tm
}

// listenAddr is where the terminal takes chats.
func (tm *terminal) listenAddr() string { return fmt.Sprintf("%s:%d", tm.ip, tm.port) }

// start runs the daemon and waits until it is ready.
func (tm *terminal) start() {
	tm.t.Helper()
	argv := append(append([]string{}, tm.wrap...), daemonBin,
		"--server", tm.server, "--listen", tm.listenAddr(), "--control", tm.sock,
		"--state-dir", tm.stateDir, "--keypad", "console", "--security", tm.mode)
	argv = append(argv, tm.extra...)
	tm.p = startProc(tm.t, "pi2pid@"+tm.ip, false, argv...)
	if err := tm.p.waitFor("ready", startTimeout); err != nil {
		tm.t.Fatalf("pi2pid did not start: %v", err)
	}
}

// ctl runs pi2pictl against this terminal with stdin and returns its
// standard output, standard error and exit code.
func (tm *terminal) ctl(stdin string, args ...string) (stdout, stderr string, code int) {
	tm.t.Helper()
	cmd := exec.Command(ctlBin, append([]string{"--socket", tm.sock}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	var o, e strings.Builder
	cmd.Stdout, cmd.Stderr = &o, &e
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		tm.t.Fatalf("starting pi2pictl: %v", err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-ctx.Done():
		cmd.Process.Kill()
		<-done
		tm.t.Fatalf("pi2pictl %s hung for 30s; stdout:\n%s\nstderr:\n%s", strings.Join(args, " "), o.String(), e.String())
	}
	return o.String(), e.String(), cmd.ProcessState.ExitCode()
}

// tryLogin logs user in with digits on the console keypad, typing each
// answer once pi2pictl asks for it, as a person would. Its input stays open
// until it is done (TestLoginFromPipe covers the fully scripted form).
func (tm *terminal) tryLogin(user, digits string) (out string, code int) {
	tm.t.Helper()
	p := startProc(tm.t, "pi2pictl login@"+tm.ip, true, ctlBin, "--socket", tm.sock, "login")
	if p.waitFor("Login:", stepTimeout) == nil {
		p.write(user + "\n")
		if p.waitFor("Enter passcode", stepTimeout) == nil {
			p.write(digits + "\n")
		}
	}
	code, err := p.wait(stepTimeout)
	if err != nil {
		tm.t.Fatalf("pi2pictl login: %v\n%s", err, p.Output())
	}
	return p.Output(), code
}

// login logs user in with the right passcode and fails the test otherwise.
func (tm *terminal) login(user string) string {
	tm.t.Helper()
	out, code := tm.tryLogin(user, passcodes[user])
	if code != 0 || !strings.Contains(out, "Logged in.") {
		tm.t.Fatalf("%s could not log in at %s (exit %d):\n%s", user, tm.ip, code, out)
	}
	tm.user = user
	return out
}

// logout logs the terminal's user out.
func (tm *terminal) logout() {
	tm.t.Helper()
	if out, errOut, code := tm.ctl("", "logout"); code != 0 {
		tm.t.Fatalf("logout at %s failed (exit %d): %s%s", tm.ip, code, out, errOut)
	}
	tm.user = ""
}

// status asks the daemon for its status over the control API.
func (tm *terminal) status() control.Status {
	tm.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), stepTimeout)
	defer cancel()
	c, err := control.Dial(ctx, tm.sock)
	if err != nil {
		tm.t.Fatalf("control socket of %s: %v", tm.ip, err)
	}
	defer c.Close()
	rep, err := c.Call(ctx, control.Request{Op: control.OpStatus})
	if err != nil || rep.Status == nil {
		tm.t.Fatalf("status of %s: %v", tm.ip, err)
	}
	return *rep.Status
}

// waitState waits until the daemon reports state (e.g. "logged-in").
func (tm *terminal) waitState(state control.State) {
	tm.t.Helper()
	deadline := time.Now().Add(stepTimeout)
	for {
		st := tm.status()
		if st.State == state {
			return
		}
		if time.Now().After(deadline) {
			tm.t.Fatalf("terminal %s stays in state %q, want %q", tm.ip, st.State, state)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// identityFile is where the daemon keeps its key.
func (tm *terminal) identityFile() string { return filepath.Join(tm.stateDir, "identity.key") }

// --------------------------------------------------------------------- chat

// attachedReceiver is a control connection attached to take incoming chats
// (what `pi2pictl wait` does), for tests that must know it is attached
// before anyone calls.
type attachedReceiver struct {
	t    testing.TB
	c    *control.Client
	sock string
	s    *control.Stream // the chat's data stream, opened at chat-start
}

// attach connects to the terminal's control socket and attaches.
func attach(t testing.TB, tm *terminal) *attachedReceiver {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), stepTimeout)
	defer cancel()
	c, err := control.Dial(ctx, tm.sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	r := &attachedReceiver{t: t, c: c, sock: tm.sock}
	t.Cleanup(func() {
		if r.s != nil {
			r.s.Close()
		}
	})
	r.wait()
	return r
}

// end ends our side of the chat (its data stream), as pi2pictl does at the
// end of stdin; the chat-start is waited for when not seen yet.
func (r *attachedReceiver) end() {
	r.t.Helper()
	if r.s == nil {
		if _, ok := r.next(control.EventChatStart, stepTimeout); !ok {
			r.t.Fatal("no chat-start event")
		}
	}
	if err := r.s.CloseWrite(); err != nil {
		r.t.Fatalf("end: %v", err)
	}
}

// wait attaches for the next chat.
func (r *attachedReceiver) wait() {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), stepTimeout)
	defer cancel()
	if _, err := r.c.Call(ctx, control.Request{Op: control.OpWait}); err != nil {
		r.t.Fatalf("wait: %v", err)
	}
}

// next returns the next event named name, or false after timeout.
func (r *attachedReceiver) next(name control.Event, timeout time.Duration) (control.Reply, bool) {
	deadline := time.After(timeout)
	for {
		select {
		case ev, ok := <-r.c.Events():
			if !ok {
				return control.Reply{}, false
			}
			switch ev.Event {
			case control.EventChatStart:
				// As pi2pictl does: open the chat's data stream.
				ctx, cancel := context.WithTimeout(context.Background(), stepTimeout)
				s, err := control.DialStream(ctx, r.sock, ev.Token)
				cancel()
				if err != nil {
					r.t.Errorf("opening the data stream: %v", err)
					return control.Reply{}, false
				}
				if r.s != nil {
					r.s.Close() // of the chat before
				}
				r.s = s
			case control.EventChatEnding:
				// As pi2pictl does: send nothing more, end our side.
				if r.s != nil {
					_ = r.s.CloseWrite()
				}
			case control.EventChatEnd:
				// The stream was the chat's: the next chat has its own.
				if r.s != nil {
					r.s.Close()
					r.s = nil
				}
			}
			if ev.Event == name {
				return ev, true
			}
		case <-deadline:
			return control.Reply{}, false
		}
	}
}

// ended waits for the chat to end.
func (r *attachedReceiver) ended() {
	r.t.Helper()
	if _, ok := r.next(control.EventChatEnd, stepTimeout); !ok {
		r.t.Fatal("no chat-end event")
	}
}

// chatSession is one pi2pictl chat or wait, fed line by line.
type chatSession struct {
	t  testing.TB
	tm *terminal
	p  *proc
}

// Banners of the course transcripts.
const (
	established = "Connection established, type your messages"
	ended       = "Connection ended"
)

func received(user string) string {
	return "Connection received from user " + user + ", type your messages"
}

// answer attaches a `pi2pictl wait` that takes the next incoming chat.
func (tm *terminal) answer() *chatSession {
	tm.t.Helper()
	p := startProc(tm.t, "pi2pictl wait@"+tm.ip, true, ctlBin, "--socket", tm.sock, "wait")
	return &chatSession{t: tm.t, tm: tm, p: p}
}

// dial starts `pi2pictl chat user` without waiting for its outcome.
func (tm *terminal) dial(user string) *chatSession {
	tm.t.Helper()
	p := startProc(tm.t, "pi2pictl chat "+user+"@"+tm.ip, true, ctlBin, "--socket", tm.sock, "chat", user)
	return &chatSession{t: tm.t, tm: tm, p: p}
}

// tryCall calls user and returns once the chat is established (ok) or the
// call has failed (the session's output says why). A callee whose
// `pi2pictl wait` has not attached yet answers "away": the call is repeated
// for a few seconds, as a user would.
func (tm *terminal) tryCall(user string) (c *chatSession, ok bool) {
	tm.t.Helper()
	deadline := time.Now().Add(stepTimeout)
	for {
		c = tm.dial(user)
		err := c.p.waitUntil(stepTimeout, "an outcome", func(out string) bool { return strings.Contains(out, established) })
		if err == nil {
			return c, true
		}
		if c.p.exited() && strings.Contains(strings.ToLower(c.p.Output()), "away") && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
			continue
		}
		return c, false
	}
}

// call calls user and fails the test unless the chat is established.
func (tm *terminal) call(user string) *chatSession {
	tm.t.Helper()
	c, ok := tm.tryCall(user)
	if !ok {
		tm.t.Fatalf("call from %s to %s failed:\n%s", tm.ip, user, c.p.Output())
	}
	return c
}

// refusedCall calls user, expects a refusal and returns pi2pictl's output.
func (tm *terminal) refusedCall(user string) string {
	tm.t.Helper()
	c := tm.dial(user)
	code, err := c.p.wait(stepTimeout)
	if err != nil {
		tm.t.Fatalf("call from %s to %s neither connected nor failed: %v\n%s", tm.ip, user, err, c.p.Output())
	}
	out := c.p.Output()
	if strings.Contains(out, established) || code == 0 {
		tm.t.Fatalf("call from %s to %s was not refused (exit %d):\n%s", tm.ip, user, code, out)
	}
	if code != 1 {
		tm.t.Errorf("refused call exited %d, want 1:\n%s", code, out)
	}
	return out
}

// say types a line into the chat.
func (c *chatSession) say(line string) {
	c.t.Helper()
	if err := c.p.write(line + "\n"); err != nil {
		c.t.Fatalf("typing into %s: %v\n%s", c.p.name, err, c.p.Output())
	}
}

// expect waits until the session's output shows text.
func (c *chatSession) expect(text string) {
	c.t.Helper()
	if err := c.p.waitFor(text, stepTimeout); err != nil {
		c.t.Fatalf("%v; output so far:\n%s", err, c.p.Output())
	}
}

// hangUp ends the chat from this side (end of input, the scripted CTRL-C).
func (c *chatSession) hangUp() { c.p.closeStdin() }

// finish waits for the session to end and returns its transcript.
func (c *chatSession) finish() string {
	c.t.Helper()
	code, err := c.p.wait(stepTimeout)
	if err != nil {
		c.t.Fatalf("%v\n%s", err, c.p.Output())
	}
	if code != 0 {
		c.t.Errorf("%s exited %d:\n%s", c.p.name, code, c.p.Output())
	}
	return c.p.Stdout()
}

// transcriptLines returns the non-empty lines of out, trimmed.
func transcriptLines(out string) []string {
	var lines []string
	for _, l := range strings.Split(out, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	return lines
}

// inOrder checks that each wanted text appears in out, in this order, each
// on a line of its own (other lines, like a safety-code banner, may sit in
// between; a line may hold more, like "Login: ali" for "Login:").
func inOrder(t testing.TB, who, out string, want ...string) {
	t.Helper()
	lines := transcriptLines(out)
	i := 0
	for _, w := range want {
		for i < len(lines) && !strings.Contains(lines[i], w) {
			i++
		}
		if i == len(lines) {
			t.Errorf("%s's transcript lacks %q (in this order: %q):\n%s", who, w, want, out)
			return
		}
		i++
	}
}

// roundTrip performs the course handouts' demonstration between two logged-in
// terminals and returns both transcripts.
func roundTrip(t testing.TB, from, to *terminal) (initiator, receiver string) {
	t.Helper()
	in := to.answer()
	out := from.call(to.user)
	in.expect(received(from.user))
	out.say("Hello, are you there?")
	in.expect("Hello, are you there?")
	in.say("Yes, here I am!")
	out.expect("Yes, here I am!")
	out.hangUp()
	in.expect(ended)
	initiator, receiver = out.finish(), in.finish()
	inOrder(t, from.user, initiator, established, "Yes, here I am!", ended)
	inOrder(t, to.user, receiver, received(from.user), "Hello, are you there?", ended)
	return initiator, receiver
}

// credentialOf is what our terminal sends as the AUTHREQ passcode.
func credentialOf(user string) string {
	return credential.FromDigits(user, []byte(passcodes[user]))
}
