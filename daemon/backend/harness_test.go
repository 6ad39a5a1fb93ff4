package backend

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/pi2pi/pi2pi/daemon/controlsock"
	"github.com/pi2pi/pi2pi/daemon/directory/directorytest"
	"github.com/pi2pi/pi2pi/daemon/internal/leaktest"
	"github.com/pi2pi/pi2pi/daemon/keypad"
	"github.com/pi2pi/pi2pi/internal/control"
	"github.com/pi2pi/pi2pi/internal/transport"
)

// fakeServer is the in-memory directory shared by the terminals of a test.
type fakeServer = directorytest.Server

var newFakeServer = directorytest.NewServer

// fakeKeypad is a console keypad fed by Press.
type fakeKeypad struct {
	console bool
	mu      sync.Mutex
	keys    chan control.Key
}

func (k *fakeKeypad) Kind() control.Keypad {
	if k.console {
		return control.KeypadConsole
	}
	return control.KeypadRPIO
}

func (k *fakeKeypad) ReadPasscode(ctx context.Context, started func()) ([]byte, error) {
	ch := make(chan control.Key, 64)
	k.mu.Lock()
	k.keys = ch
	k.mu.Unlock()
	defer func() { k.mu.Lock(); k.keys = nil; k.mu.Unlock() }()
	started()
	var digits []byte
	for {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case key := <-ch:
			switch key {
			case control.KeyEnter:
				return digits, nil
			case control.KeyCancel:
				return nil, keypad.ErrCancelled
			default:
				digits = append(digits, key...)
			}
		}
	}
}

func (k *fakeKeypad) Press(key control.Key) error {
	if !k.console {
		return ErrNoConsole
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.keys == nil {
		return keypad.ErrNotStarted
	}
	select {
	case k.keys <- key:
		return nil
	default: // keys come faster than the entry takes them
		return keypad.ErrBusy
	}
}

// term is one in-process terminal with its listeners.
type term struct {
	*Terminal
	ip, sock string
	id       *transport.Identity
	dir      *directorytest.Dir
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func testLogger(t testing.TB) *slog.Logger {
	if os.Getenv("PI2PI_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, nil)).With("test", t.Name())
	}
	return quiet
}

// newTerm starts a terminal on ip:port talking to srv.
func newTerm(t testing.TB, srv *fakeServer, mode transport.Mode, ip string, port int, tweak ...func(*Options)) *term {
	t.Helper()
	id, err := transport.GenerateIdentity()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	tc := &transport.Config{Mode: mode, LocalIP: mustAddr(ip)}
	var key ed25519.PublicKey
	if mode == transport.Secure {
		tc.Identity = id
		key = id.Public
	}
	fd := srv.Dir(ip, key)
	opt := Options{Directory: fd, Transport: tc, Keypad: &fakeKeypad{console: true}, PeerPort: port,
		Timeout: 2 * time.Second, PeersFile: filepath.Join(dir, "peers"), Log: testLogger(t),
		Info: control.Status{Security: string(mode)}}
	for _, f := range tweak {
		f(&opt)
	}
	tm := &term{Terminal: New(opt), ip: ip, sock: filepath.Join(dir, "control.sock"), id: id, dir: fd}
	pl, err := net.Listen("tcp", fmt.Sprintf("%s:%d", ip, port))
	if err != nil {
		t.Fatal(err)
	}
	cl, err := net.Listen("unix", tm.sock)
	if err != nil {
		t.Fatal(err)
	}
	cs := &controlsock.Server{Handler: tm.Terminal, Daemon: "test", Log: testLogger(t)}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); _ = tm.ServePeers(pl) }()
	go func() { defer wg.Done(); _ = cs.Serve(cl) }()
	t.Cleanup(func() {
		pl.Close()
		cl.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		tm.Shutdown(ctx)
		cs.Close()
		wg.Wait()
	})
	return tm
}

// pair starts ali on 127.0.0.2 and bianca on 127.0.0.3, both logged in,
// bianca waiting for a chat.
func pair(t testing.TB, mode transport.Mode) (srv *fakeServer, aliT, biancaT *term, ali, bianca *user) {
	leaktest.Check(t)
	srv = newFakeServer()
	port := freePort(t, "127.0.0.2", "127.0.0.3")
	aliT = newTerm(t, srv, mode, "127.0.0.2", port)
	biancaT = newTerm(t, srv, mode, "127.0.0.3", port)
	ali, bianca = attach(t, aliT.sock), attach(t, biancaT.sock)
	ali.LogIn("ali", "1234")
	bianca.LogIn("bianca", "5678")
	bianca.Must(control.Request{Op: control.OpWait})
	return
}
