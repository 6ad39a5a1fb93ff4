package backend

import (
	"context"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/pi2pi/pi2pi/daemon/directory"
	"github.com/pi2pi/pi2pi/daemon/internal/leaktest"
	"github.com/pi2pi/pi2pi/daemon/terminal"
	"github.com/pi2pi/pi2pi/internal/control"
	"github.com/pi2pi/pi2pi/internal/testbin"
	"github.com/pi2pi/pi2pi/internal/transport"
)

// holdDir is the fake directory with a slow server: while held, a lookup
// of another user (a chat's, a caller's check) or a logout waits until it
// is released or its context ends. entered tells that one waits.
type holdDir struct {
	directory.Directory
	mu            sync.Mutex
	lookups, outs chan struct{} // closed to release; nil: not held
	entered       chan string
}

func newHoldDir(d directory.Directory) *holdDir {
	return &holdDir{Directory: d, entered: make(chan string, 16)}
}

func (h *holdDir) hold(lookups, logouts bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if lookups {
		h.lookups = make(chan struct{})
	}
	if logouts {
		h.outs = make(chan struct{})
	}
}

func (h *holdDir) release() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, c := range []*chan struct{}{&h.lookups, &h.outs} {
		if *c != nil {
			close(*c)
			*c = nil
		}
	}
}

func (h *holdDir) wait(ctx context.Context, held *chan struct{}, what string) error {
	h.mu.Lock()
	c := *held
	h.mu.Unlock()
	if c == nil {
		return nil
	}
	h.entered <- what
	select {
	case <-c:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (h *holdDir) Lookup(ctx context.Context, self, target string) (directory.Entry, error) {
	if self != target {
		if err := h.wait(ctx, &h.lookups, "lookup"); err != nil {
			return directory.Entry{}, err
		}
	}
	return h.Directory.Lookup(ctx, self, target)
}

func (h *holdDir) Logout(ctx context.Context, user string) error {
	if err := h.wait(ctx, &h.outs, "logout"); err != nil {
		return err
	}
	return h.Directory.Logout(ctx, user)
}

// entered waits until something waits on the held server.
func (h *holdDir) waitEntered(t *testing.T, what string) {
	t.Helper()
	select {
	case got := <-h.entered:
		if got != what {
			t.Fatalf("%s waits on the server, want %s", got, what)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("no %s reached the server", what)
	}
}

// setUpStage starts a chat set-up between ali and bianca that stays in
// stage (looking-up, awaiting-reply: ali calls; verifying: bianca calls
// ali) until the test ends it. It returns the result of the chat request.
func setUpStage(t *testing.T, stage terminal.State, hd *holdDir, srv *fakeServer, aliT *term, ali *user, port int) <-chan error {
	t.Helper()
	caller := ali
	switch stage {
	case terminal.LookingUp:
		srv.Login("bianca", "127.0.0.3", nil)
		hd.hold(true, false)
	case terminal.AwaitingReply:
		// bianca's terminal takes the CONNECTREQ and never answers.
		srv.Login("bianca", "127.0.0.3", nil)
		testbin.SilentPeer(t, net.JoinHostPort("127.0.0.3", strconv.Itoa(port)))
	case terminal.Verifying:
		biancaT := newTerm(t, srv, transport.Plain, "127.0.0.3", port)
		caller = attach(t, biancaT.sock)
		caller.LogIn("bianca", "5678")
		ali.Must(control.Request{Op: control.OpWait})
		hd.hold(true, false)
	}
	res := make(chan error, 1)
	callee := "bianca"
	if caller != ali {
		callee = "ali"
	}
	go func() {
		_, err := caller.Call(control.Request{Op: control.OpChat, UserID: callee})
		res <- err
	}()
	if stage == terminal.AwaitingReply {
		waitFor(t, func() bool { s, _, _ := aliT.m.State(); return s == stage })
	} else {
		hd.waitEntered(t, "lookup")
		aliT.m.Announce()
	}
	if s, _, _ := aliT.m.State(); s != stage {
		t.Fatalf("state %s, want %s", s, stage)
	}
	return res
}

// newHeldTerm starts ali's terminal, logged in, on a server it reaches
// through a holdDir.
func newHeldTerm(t *testing.T) (srv *fakeServer, hd *holdDir, aliT *term, ali *user, port int) {
	leaktest.Check(t)
	srv = newFakeServer()
	port = freePort(t, "127.0.0.2", "127.0.0.3")
	aliT = newTerm(t, srv, transport.Plain, "127.0.0.2", port, func(o *Options) {
		hd = newHoldDir(o.Directory)
		o.Directory = hd
	})
	ali = attach(t, aliT.sock)
	ali.LogIn("ali", "1234")
	return
}

// A logout during a chat set-up abandons the set-up (its request is
// refused: "you logged out"), then logs out: pi2pid and the server agree.
func TestLogoutDuringChatSetUp(t *testing.T) {
	for _, stage := range []terminal.State{terminal.LookingUp, terminal.AwaitingReply, terminal.Verifying} {
		t.Run(stage.String(), func(t *testing.T) {
			srv, hd, aliT, ali, port := newHeldTerm(t)
			res := setUpStage(t, stage, hd, srv, aliT, ali, port)
			logout := attach(t, aliT.sock)
			logout.Must(control.Request{Op: control.OpLogout})
			hd.release()
			err := <-res
			if stage != terminal.Verifying && control.CodeOf(err) != control.CodeLoggedOut {
				t.Errorf("the chat request: %v, want code %s", err, control.CodeLoggedOut)
			}
			if stage == terminal.Verifying && control.CodeOf(err) != control.CodeNotFound {
				t.Errorf("bianca's call to ali: %v, want %s (ali logged out)", err, control.CodeNotFound)
			}
			if s, _, _ := aliT.m.State(); s != terminal.LoggedOut || srv.LoggedIn("ali") {
				t.Fatalf("after the logout: state %s, server holds ali: %v", s, srv.LoggedIn("ali"))
			}
		})
	}
}

// The machine takes a logout before the server is told: a chat asked for
// while the LOGOUTREQ is on its way is refused ("logging out"), and the
// logout ends logged out, as on the server.
func TestChatWhileTheServerIsToldOfTheLogout(t *testing.T) {
	srv, hd, aliT, ali, _ := newHeldTerm(t)
	srv.Login("bianca", "127.0.0.3", nil)
	hd.hold(false, true)
	done := make(chan error, 1)
	go func() {
		_, err := attach(t, aliT.sock).Call(control.Request{Op: control.OpLogout})
		done <- err
	}()
	hd.waitEntered(t, "logout")
	ali.Refused(control.Request{Op: control.OpChat, UserID: "bianca"}, control.CodeLoggingOut)
	ali.Refused(control.Request{Op: control.OpLogin, UserID: "ali"}, control.CodeLoggingOut)
	hd.release()
	if err := <-done; err != nil {
		t.Fatalf("logout: %v", err)
	}
	if s, _, _ := aliT.m.State(); s != terminal.LoggedOut || srv.LoggedIn("ali") {
		t.Fatalf("after the logout: state %s, server holds ali: %v", s, srv.LoggedIn("ali"))
	}
}

// SIGTERM (Shutdown) during a chat set-up abandons it and logs out from
// the server, as when idle.
func TestShutdownDuringChatSetUp(t *testing.T) {
	for _, stage := range []terminal.State{terminal.LookingUp, terminal.AwaitingReply, terminal.Verifying} {
		t.Run(stage.String(), func(t *testing.T) {
			srv, hd, aliT, ali, port := newHeldTerm(t)
			res := setUpStage(t, stage, hd, srv, aliT, ali, port)
			ctx, cancel := contextWithTimeout(10 * time.Second)
			defer cancel()
			aliT.Shutdown(ctx)
			hd.release()
			err := <-res
			if stage != terminal.Verifying && control.CodeOf(err) != control.CodeStopping {
				t.Errorf("the chat request: %v, want code %s", err, control.CodeStopping)
			}
			if stage == terminal.Verifying && err == nil {
				t.Errorf("bianca's call to ali went through after ali's pi2pid stopped")
			}
			if s, _, _ := aliT.m.State(); s != terminal.LoggedOut || srv.LoggedIn("ali") {
				t.Fatalf("after shutdown: state %s, server holds ali: %v", s, srv.LoggedIn("ali"))
			}
		})
	}
}

// CTRL-C in pi2pictl while a chat is set up: the client cancels its
// request (cancel-chat) or closes its connection; the set-up ends, its
// request is refused chat-cancelled, and no chat starts (no ghost call
// once the server or the peer answers).
func TestCancelChatSetUp(t *testing.T) {
	for _, stage := range []terminal.State{terminal.LookingUp, terminal.AwaitingReply} {
		for _, how := range []string{"cancel-chat", "close"} {
			t.Run(stage.String()+"/"+how, func(t *testing.T) {
				srv, hd, aliT, ali, port := newHeldTerm(t)
				caller := attach(t, aliT.sock)
				res := setUpStage(t, stage, hd, srv, aliT, caller, port)
				if how == "close" {
					caller.C.Close()
				} else if err := caller.C.Send(control.Request{Op: control.OpCancelChat}); err != nil {
					t.Fatal(err)
				}
				err := <-res
				if how == "cancel-chat" && control.CodeOf(err) != control.CodeChatCancelled {
					t.Errorf("the chat request: %v, want code %s", err, control.CodeChatCancelled)
				}
				waitFor(t, func() bool { s, _, _ := aliT.m.State(); return s == terminal.LoggedIn })
				hd.release() // the server answers late: nothing follows
				ali.Must(control.Request{Op: control.OpStatus})
				if s, _, _ := aliT.m.State(); s != terminal.LoggedIn || !srv.LoggedIn("ali") {
					t.Fatalf("after the cancel: state %s, server holds ali: %v", s, srv.LoggedIn("ali"))
				}
				// The same client may ask again; a cancel with nothing
				// under way does nothing.
				if how == "cancel-chat" {
					caller.Must(control.Request{Op: control.OpCancelChat})
				}
			})
		}
	}
}
