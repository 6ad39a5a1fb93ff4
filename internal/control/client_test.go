package control

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// fakeDaemon is a minimal pi2pid: it answers the hello with its version
// and hands each connection to the test, which scripts the rest.
type fakeDaemon struct {
	path    string
	version int
	conns   chan *fakeConn
}

// fakeConn is the daemon's end of one client connection.
type fakeConn struct {
	t     *testing.T
	c     net.Conn
	r     *bufio.Reader
	hello []byte // the client's hello line, as sent
}

func startFake(t *testing.T, version int) *fakeDaemon {
	t.Helper()
	d := &fakeDaemon{path: filepath.Join(t.TempDir(), "control.sock"), version: version, conns: make(chan *fakeConn, 4)}
	l, err := net.Listen("unix", d.path)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var open []net.Conn
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		for _, c := range open {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			open = append(open, c)
			mu.Unlock()
			c.SetDeadline(time.Now().Add(5 * time.Second))
			fc := &fakeConn{t: t, c: c, r: bufio.NewReader(c)}
			line, err := fc.r.ReadBytes('\n')
			if err != nil {
				c.Close()
				continue
			}
			fc.hello = line
			fc.send(Reply{Type: TypeHello, Version: d.version, Daemon: "pi2pid fake"})
			d.conns <- fc
		}
	}()
	return d
}

func (d *fakeDaemon) accept(t *testing.T) *fakeConn {
	t.Helper()
	select {
	case c := <-d.conns:
		return c
	case <-time.After(5 * time.Second):
		t.Fatal("no client connected to the fake daemon")
		return nil
	}
}

func (f *fakeConn) send(r Reply) {
	b, err := json.Marshal(r)
	if err != nil {
		panic(err)
	}
	f.c.Write(append(b, '\n'))
}

func (f *fakeConn) recv() Request {
	f.t.Helper()
	line, err := f.r.ReadBytes('\n')
	if err != nil {
		f.t.Fatalf("fake daemon: reading a request: %v", err)
	}
	var req Request
	if err := json.Unmarshal(line, &req); err != nil {
		f.t.Fatalf("fake daemon: bad request %q: %v", line, err)
	}
	return req
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func dial(t *testing.T, d *fakeDaemon) (*Client, *fakeConn) {
	t.Helper()
	c, err := Dial(testCtx(t), d.path)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c, d.accept(t)
}

func nextEvent(t *testing.T, c *Client) Reply {
	t.Helper()
	select {
	case ev, ok := <-c.Events():
		if !ok {
			t.Fatal("Events closed")
		}
		return ev
	case <-time.After(5 * time.Second):
		t.Fatal("no event")
		return Reply{}
	}
}

func TestHello(t *testing.T) {
	d := startFake(t, Version)
	c, fc := dial(t, d)
	if want := fmt.Sprintf(`{"id":0,"op":"hello","version":%d}`+"\n", Version); string(fc.hello) != want {
		t.Errorf("client hello %q, want %q", fc.hello, want)
	}
	if c.Daemon != "pi2pid fake" {
		t.Errorf("Daemon = %q", c.Daemon)
	}
}

func TestVersionMismatch(t *testing.T) {
	for _, tc := range []struct {
		name    string
		daemon  int
		upgrade string
	}{
		{"daemon newer", Version + 1, "upgrade pi2pictl"},
		{"daemon older", Version - 1, "upgrade pi2pid"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := startFake(t, tc.daemon)
			c, err := Dial(testCtx(t), d.path)
			if err == nil {
				c.Close()
				t.Fatal("Dial succeeded against another protocol version")
			}
			var ve *VersionError
			if !errors.As(err, &ve) || ve.Client != Version || ve.Daemon != tc.daemon {
				t.Fatalf("error %#v, want a VersionError{Client: %d, Daemon: %d}", err, Version, tc.daemon)
			}
			msg := err.Error()
			if !strings.Contains(msg, tc.upgrade) || !strings.Contains(msg, fmt.Sprintf("v%d", tc.daemon)) {
				t.Errorf("message %q should name the versions and say %q", msg, tc.upgrade)
			}
			if tc.upgrade == "upgrade pi2pid" && strings.Contains(msg, "upgrade pi2pictl") {
				t.Errorf("message %q names both sides", msg)
			}
		})
	}
}

func TestNotRunning(t *testing.T) {
	dir := t.TempDir()
	// No socket at all.
	_, err := Dial(testCtx(t), filepath.Join(dir, "missing.sock"))
	if !errors.Is(err, ErrDaemonNotRunning) || !strings.Contains(err.Error(), "missing.sock") {
		t.Errorf("missing socket: %v, want ErrDaemonNotRunning naming the path", err)
	}
	// A stale socket file left by a daemon that died.
	stale := filepath.Join(dir, "stale.sock")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: stale, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	l.SetUnlinkOnClose(false)
	l.Close()
	if _, err := os.Stat(stale); err != nil {
		t.Fatalf("stale socket file is gone: %v", err)
	}
	_, err = Dial(testCtx(t), stale)
	if !errors.Is(err, ErrDaemonNotRunning) {
		t.Errorf("stale socket: %v, want ErrDaemonNotRunning", err)
	}
	// A missing directory (pi2pid never started: /run/pi2pid absent).
	if _, err := Dial(testCtx(t), filepath.Join(dir, "nodir", "control.sock")); !errors.Is(err, ErrDaemonNotRunning) {
		t.Errorf("missing directory: %v, want ErrDaemonNotRunning", err)
	}
}

// TestPermissionDenied: a socket in a directory the user may not enter
// gives ErrPermission, not "not running". Root bypasses file modes, so as
// root the check runs in a child process (this test binary, re-run) with
// the uid and gid of nobody (65534).
func TestPermissionDenied(t *testing.T) {
	if path := os.Getenv("PI2PI_TEST_PERM_SOCKET"); path != "" {
		// The child: try the socket and report.
		_, err := Dial(testCtx(t), path)
		if !errors.Is(err, ErrPermission) || !strings.Contains(err.Error(), path) {
			t.Fatalf("uid %d: Dial = %v, want ErrPermission naming %s", os.Getuid(), err, path)
		}
		return
	}
	base, err := os.MkdirTemp("", "pi2pi-control-perm")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(filepath.Join(base, "run"), 0o700); os.RemoveAll(base) })
	if err := os.Chmod(base, 0o755); err != nil {
		t.Fatal(err)
	}
	sockDir := filepath.Join(base, "run")
	if err := os.Mkdir(sockDir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(sockDir, "control.sock")
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := os.Chmod(sockDir, 0); err != nil {
		t.Fatal(err)
	}

	if os.Geteuid() != 0 {
		_, err := Dial(testCtx(t), path)
		if !errors.Is(err, ErrPermission) {
			t.Fatalf("Dial = %v, want ErrPermission", err)
		}
		return
	}
	// As root: copy the test binary where nobody can run it, and run
	// this test in it as nobody.
	self, err := os.Executable()
	if err != nil {
		t.Skipf("cannot find the test binary to re-run as nobody: %v", err)
	}
	bin := filepath.Join(base, "control.test")
	if err := copyFile(self, bin); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-test.run=^TestPermissionDenied$", "-test.count=1")
	cmd.Env = append(os.Environ(), "PI2PI_TEST_PERM_SOCKET="+path)
	cmd.Dir = base
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		if errors.Is(err, os.ErrPermission) || strings.Contains(err.Error(), "operation not permitted") {
			t.Skipf("cannot start a process as nobody here: %v", err)
		}
		t.Fatalf("as nobody: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "PASS") {
		t.Fatalf("child did not run the check:\n%s", out)
	}
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func TestNotADaemon(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name  string
		greet string
	}{
		{"garbage", "SSH-2.0-OpenSSH_9.2\r\n"},
		{"result instead of hello", `{"type":"result","id":0,"ok":false,"code":"usage","error":"x"}` + "\n"},
		{"hangs up", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_")+".sock")
			l, err := net.Listen("unix", path)
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			go func() {
				c, err := l.Accept()
				if err != nil {
					return
				}
				c.Write([]byte(tc.greet))
				c.Close()
			}()
			if c, err := Dial(testCtx(t), path); err == nil {
				c.Close()
				t.Fatal("Dial succeeded without a hello")
			}
		})
	}
}

// TestSilentDaemon: a socket that accepts and says nothing holds Dial only
// until the context's deadline.
func TestSilentDaemon(t *testing.T) {
	path := filepath.Join(t.TempDir(), "silent.sock")
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	held := make(chan net.Conn, 1)
	go func() {
		c, err := l.Accept()
		if err == nil {
			held <- c
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	if c, err := Dial(ctx, path); err == nil {
		c.Close()
		t.Fatal("Dial succeeded against a silent socket")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("Dial waited %v despite a 200ms deadline", d)
	}
	(<-held).Close()
}

// TestCallAndEventOrder: events arrive in the order sent, and an event the
// daemon sent before a result is already in Events when Call returns, so a
// client that reads events after acting on a result misses nothing.
func TestCallAndEventOrder(t *testing.T) {
	d := startFake(t, Version)
	c, fc := dial(t, d)
	fc.send(Reply{Type: TypeEvent, Event: EventState, State: "logged-out"})
	fc.send(Reply{Type: TypeEvent, Event: EventState, State: "entering-passcode"})

	done := make(chan struct{})
	var rep Reply
	var callErr error
	go func() {
		defer close(done)
		rep, callErr = c.Call(testCtx(t), Request{Op: OpStatus})
	}()
	req := fc.recv()
	if req.Op != OpStatus || req.ID < 1 {
		t.Fatalf("daemon got %+v", req)
	}
	fc.send(Reply{Type: TypeEvent, Event: EventLogin, OK: true, UserID: "ali"})
	fc.send(Reply{Type: TypeResult, ID: req.ID, OK: true, Status: &Status{State: "logged-in", UserID: "ali"}})
	<-done
	if callErr != nil || rep.Status == nil || rep.Status.UserID != "ali" || rep.ID != req.ID {
		t.Fatalf("Call = %+v, %v", rep, callErr)
	}
	want := []string{"state logged-out", "state entering-passcode", "login ali"}
	for i, w := range want {
		select {
		case ev := <-c.Events():
			got := string(ev.Event) + " " + string(ev.State) + ev.UserID
			if got != w {
				t.Fatalf("event %d = %q, want %q", i, got, w)
			}
		default:
			t.Fatalf("event %d (%s) not queued when Call returned", i, w)
		}
	}

	// Many events stay in order.
	go func() {
		for i := 0; i < 1000; i++ {
			fc.send(Reply{Type: TypeEvent, Event: EventState, UserID: fmt.Sprint(i)})
		}
	}()
	for i := 0; i < 1000; i++ {
		if ev := nextEvent(t, c); ev.UserID != fmt.Sprint(i) {
			t.Fatalf("event %d has user %q", i, ev.UserID)
		}
	}
}

// TestConcurrentCalls: results answered out of order reach their callers.
func TestConcurrentCalls(t *testing.T) {
	d := startFake(t, Version)
	c, fc := dial(t, d)
	users := []string{"ali", "bianca", "fred"}
	results := make(chan string, len(users))
	for _, u := range users {
		go func() {
			rep, err := c.Call(testCtx(t), Request{Op: OpVerify, UserID: u})
			if err != nil {
				results <- "error " + err.Error()
				return
			}
			results <- u + "=" + rep.UserID
		}()
	}
	var reqs []Request
	seen := map[int]bool{}
	for range users {
		r := fc.recv()
		if seen[r.ID] {
			t.Fatalf("ID %d used twice", r.ID)
		}
		seen[r.ID] = true
		reqs = append(reqs, r)
	}
	// A result for an ID nobody waits for is ignored.
	fc.send(Reply{Type: TypeResult, ID: 999, OK: true, UserID: "nobody"})
	for i := len(reqs) - 1; i >= 0; i-- {
		fc.send(Reply{Type: TypeResult, ID: reqs[i].ID, OK: true, UserID: reqs[i].UserID})
	}
	for range users {
		select {
		case r := <-results:
			u, got, _ := strings.Cut(r, "=")
			if u != got {
				t.Errorf("caller for %q got %q", u, r)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("a Call did not return")
		}
	}
}

func TestCallError(t *testing.T) {
	d := startFake(t, Version)
	c, fc := dial(t, d)
	go func() {
		r := fc.recv()
		fc.send(Reply{Type: TypeResult, ID: r.ID, Code: CodeNotFound, Peer: "bianca", Error: "LOOKUPREPLY NOTFOUND"})
	}()
	rep, err := c.Call(testCtx(t), Request{Op: OpChat, UserID: "bianca"})
	var e *Error
	if !errors.As(err, &e) || *e != (Error{Code: CodeNotFound, Peer: "bianca", Detail: "LOOKUPREPLY NOTFOUND"}) {
		t.Fatalf("Call error %#v, want *Error with code %q", err, CodeNotFound)
	}
	if CodeOf(err) != CodeNotFound || CodeOf(fmt.Errorf("chat: %w", err)) != CodeNotFound {
		t.Error("CodeOf does not find the code")
	}
	if CodeOf(errors.New("other")) != "" || CodeOf(nil) != "" {
		t.Error("CodeOf invents a code")
	}
	if rep.Code != CodeNotFound {
		t.Errorf("reply %+v should still carry the code", rep)
	}
}

func TestSend(t *testing.T) {
	d := startFake(t, Version)
	c, fc := dial(t, d)
	if err := c.Send(Request{Op: OpKey, Key: "1"}); err != nil {
		t.Fatal(err)
	}
	if err := c.Send(Request{Op: OpKey, Key: KeyEnter}); err != nil {
		t.Fatal(err)
	}
	r1, r2 := fc.recv(), fc.recv()
	if r1.Op != OpKey || r1.Key != "1" || r2.Key != KeyEnter || r2.ID <= r1.ID {
		t.Fatalf("daemon got %+v then %+v", r1, r2)
	}
}

func TestCallContext(t *testing.T) {
	d := startFake(t, Version)
	c, fc := dial(t, d)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := c.Call(ctx, Request{Op: OpStatus}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Call without an answer: %v, want DeadlineExceeded", err)
	}
	// The late answer does not disturb the next call.
	late := fc.recv()
	fc.send(Reply{Type: TypeResult, ID: late.ID, OK: true, UserID: "late"})
	go func() {
		r := fc.recv()
		fc.send(Reply{Type: TypeResult, ID: r.ID, OK: true, UserID: "next"})
	}()
	rep, err := c.Call(testCtx(t), Request{Op: OpStatus})
	if err != nil || rep.UserID != "next" {
		t.Fatalf("next Call = %+v, %v", rep, err)
	}
}

// TestConnectionLoss: when the daemon goes away, a pending Call fails,
// queued events are still delivered, then Events and Done close, and later
// calls fail at once.
func TestConnectionLoss(t *testing.T) {
	d := startFake(t, Version)
	c, fc := dial(t, d)
	errc := make(chan error, 1)
	go func() {
		_, err := c.Call(testCtx(t), Request{Op: OpChat, UserID: "bianca"})
		errc <- err
	}()
	fc.recv()
	fc.send(Reply{Type: TypeEvent, Event: EventChatEnd, Error: "daemon stopping"})
	fc.c.Close()

	select {
	case err := <-errc:
		if !errors.Is(err, ErrClosed) {
			t.Errorf("pending Call: %v, want ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("pending Call did not return when the daemon went away")
	}
	if ev := nextEvent(t, c); ev.Event != EventChatEnd {
		t.Errorf("queued event %+v lost", ev)
	}
	select {
	case _, ok := <-c.Events():
		if ok {
			t.Error("an event after the connection ended")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Events not closed after the connection ended")
	}
	select {
	case <-c.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("Done not closed")
	}
	if !errors.Is(c.Err(), ErrClosed) {
		t.Errorf("Err = %v, want ErrClosed", c.Err())
	}
	if _, err := c.Call(testCtx(t), Request{Op: OpStatus}); err == nil {
		t.Error("Call on a dead connection succeeded")
	}
	if err := c.Send(Request{Op: OpKey, Key: "1"}); err == nil {
		t.Error("Send on a dead connection succeeded")
	}
}

func TestMalformedFromDaemon(t *testing.T) {
	d := startFake(t, Version)
	c, fc := dial(t, d)
	fc.c.Write([]byte("this is not JSON\n"))
	select {
	case <-c.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("malformed line did not end the connection")
	}
	if err := c.Err(); err == nil || !strings.Contains(err.Error(), "malformed") {
		t.Errorf("Err = %v, want a malformed-JSON error", err)
	}
}

func TestOversizeLineFromDaemon(t *testing.T) {
	d := startFake(t, Version)
	c, fc := dial(t, d)
	go fc.c.Write([]byte(`{"type":"event","text":"` + strings.Repeat("x", MaxLine+10) + "\"}\n"))
	select {
	case <-c.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("oversize line did not end the connection")
	}
	if err := c.Err(); err == nil || !strings.Contains(err.Error(), "over") {
		t.Errorf("Err = %v, want a size error", err)
	}
}

// TestCloseWithUnreadEvents: a client that stops reading events and
// closes must not leave its reader goroutine stuck on a full channel.
func TestCloseWithUnreadEvents(t *testing.T) {
	d := startFake(t, Version)
	c, fc := dial(t, d)
	for i := 0; i < 400; i++ {
		fc.send(Reply{Type: TypeEvent, Event: EventState, State: StateLoggedIn})
	}
	// Let the reader fill the buffer and block.
	time.Sleep(50 * time.Millisecond)
	c.Close()
	select {
	case <-c.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("Done not closed after Close with unread events: reader goroutine stuck")
	}
}
