// Package backendtest runs pi2pid's core in a test's process, for tests
// only: each Terminal is a real backend.Terminal with the real keypad
// package behind backend.NewKeypad, serving the real control socket
// (daemon/controlsock) in t.TempDir() and the real peer protocol on
// 127.0.0.x over TCP. Only the directory is a fake, an in-memory
// pi2pi-server (daemon/directory/directorytest) shared by the terminals of
// a Network, so a test can run ali's terminal and bianca's beside it and
// have them chat.
package backendtest

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/pi2pi/pi2pi/daemon/backend"
	"github.com/pi2pi/pi2pi/daemon/controlsock"
	"github.com/pi2pi/pi2pi/daemon/directory/directorytest"
	"github.com/pi2pi/pi2pi/daemon/keypad"
	"github.com/pi2pi/pi2pi/daemon/keypad/keypadtest"
	"github.com/pi2pi/pi2pi/internal/control"
	"github.com/pi2pi/pi2pi/internal/testbin"
	"github.com/pi2pi/pi2pi/internal/transport"
)

// IPs are the addresses terminals of a Network take, in order: ali's
// terminal is usually the first, bianca's the second.
var IPs = []string{"127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"}

// Options configure the terminals of a Network.
type Options struct {
	// Secure runs secure mode: every terminal has its own identity, chats
	// have safety codes, and keys are remembered in a peers file.
	Secure bool
	// PasscodeTimeout ends passcode entry when no key was pressed for
	// that long (pi2pid's --passcode-timeout; keypad's default when zero).
	PasscodeTimeout time.Duration
	// Hardware gives the terminals a matrix keypad on simulated GPIO pins
	// (kind "sim", Terminal.Pins) instead of the console keypad.
	Hardware bool
	// HoldKeypad keeps the keypad from listening at the start of passcode
	// entry until Terminal.ReleaseKeypad, as a slow keypad would.
	HoldKeypad bool
}

// Network is a fake pi2pi-server and the terminals that use it, all on the
// same peer port.
type Network struct {
	Server *directorytest.Server
	Port   int
	opt    Options
	next   int // index into IPs
}

// NewNetwork starts an empty network.
func NewNetwork(t testing.TB, o Options) *Network {
	t.Helper()
	return &Network{Server: directorytest.NewServer(), Port: testbin.FreePort(t, IPs...), opt: o}
}

// Start starts one terminal on a network of its own, on IPs[0].
func Start(t testing.TB, o Options) *Terminal {
	t.Helper()
	return NewNetwork(t, o).Terminal(t)
}

// Terminal is one running pi2pid core.
type Terminal struct {
	*backend.Terminal
	Net      *Network
	Socket   string              // the control socket
	IP       string              // the peer listener's address, on Net.Port
	Identity *transport.Identity // secure mode only
	Dir      *directorytest.Dir
	Pins     *keypadtest.Pins // Options.Hardware only
	// Keys receives every console key press the keypad took, in order.
	Keys chan control.Key

	attached chan struct{} // a client attached for incoming chats

	hold     chan struct{}
	holdOnce sync.Once
}

// Neighbour starts another terminal on tm's network.
func (tm *Terminal) Neighbour(t testing.TB) *Terminal {
	t.Helper()
	return tm.Net.Terminal(t)
}

// Terminal starts the network's next terminal; it stops when the test ends.
func (n *Network) Terminal(t testing.TB) *Terminal {
	t.Helper()
	if n.next == len(IPs) {
		t.Fatal("backendtest: no address left for another terminal")
	}
	ip := IPs[n.next]
	n.next++
	dir := t.TempDir()
	tm := &Terminal{Net: n, Socket: filepath.Join(dir, "control.sock"), IP: ip,
		Keys: make(chan control.Key, 1024), attached: make(chan struct{}, 1024), hold: make(chan struct{})}
	if !n.opt.HoldKeypad {
		tm.ReleaseKeypad()
	}
	mode := transport.Plain
	tc := &transport.Config{Mode: mode, LocalIP: netip.MustParseAddr(ip)}
	var key ed25519.PublicKey
	if n.opt.Secure {
		id, err := transport.GenerateIdentity()
		if err != nil {
			t.Fatal(err)
		}
		tm.Identity, key = id, id.Public
		tc.Mode, tc.Identity = transport.Secure, id
	}
	tm.Dir = n.Server.Dir(ip, key)
	kp := tm.keypad()
	log := logger(t)
	tm.Terminal = backend.New(backend.Options{
		Directory: tm.Dir, Transport: tc, Keypad: kp, PeerPort: n.Port,
		PeersFile: filepath.Join(dir, "peers"), Log: log,
		Info: control.Status{Server: "in-memory", Security: string(tc.Mode), Keypad: kp.Kind(),
			Listen: fmt.Sprintf("%s:%d", ip, n.Port)},
	})
	tm.serve(t, log)
	return tm
}

// serve runs the peer listener and the control socket until the test ends.
func (tm *Terminal) serve(t testing.TB, log *slog.Logger) {
	t.Helper()
	pl, err := net.Listen("tcp", fmt.Sprintf("%s:%d", tm.IP, tm.Net.Port))
	if err != nil {
		t.Fatal(err)
	}
	cl, err := net.Listen("unix", tm.Socket)
	if err != nil {
		pl.Close()
		t.Fatal(err)
	}
	cs := &controlsock.Server{Handler: watch{tm.Terminal, tm}, Daemon: "pi2pid (backendtest)", Log: log}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); _ = tm.ServePeers(pl) }()
	go func() { defer wg.Done(); _ = cs.Serve(cl) }()
	t.Cleanup(func() {
		// No request may start work once Shutdown waits for the
		// terminal's goroutines: stop serving first. (pi2pid shuts down
		// with its control connections still open.)
		pl.Close()
		cl.Close()
		cs.Close()
		wg.Wait()
		tm.ReleaseKeypad()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		tm.Shutdown(ctx)
	})
}

// keypad is the terminal's keypad: the console keypad or a matrix on
// simulated pins, behind backend.NewKeypad, watched by spy.
func (tm *Terminal) keypad() backend.Keypad {
	var src keypad.Source = keypad.NewConsole()
	if tm.Net.opt.Hardware {
		tm.Pins = keypadtest.NewPins(keypad.DefaultLayout)
		src = keypad.NewMatrix(tm.Pins, keypad.DefaultLayout, keypad.MatrixConfig{})
	}
	return spy{backend.NewKeypad(src, keypad.Map{}, tm.Net.opt.PasscodeTimeout), tm}
}

// ReleaseKeypad lets a keypad held by Options.HoldKeypad listen.
func (tm *Terminal) ReleaseKeypad() { tm.holdOnce.Do(func() { close(tm.hold) }) }

// NextKey returns the next console key the keypad took.
func (tm *Terminal) NextKey(t testing.TB) control.Key {
	t.Helper()
	select {
	case k := <-tm.Keys:
		return k
	case <-time.After(20 * time.Second):
		t.Fatal("backendtest: no key was pressed")
		return ""
	}
}

// WaitAttached waits until a control client (pi2pictl wait, or the
// shell at its destination prompt) attached for incoming chats, once per
// attach: a call then reaches it instead of being refused as away.
func (tm *Terminal) WaitAttached(t testing.TB) {
	t.Helper()
	select {
	case <-tm.attached:
	case <-time.After(20 * time.Second):
		t.Fatal("backendtest: no client attached for incoming chats")
	}
}

// watch is the control handler; it notices attaches for WaitAttached.
type watch struct {
	*backend.Terminal
	tm *Terminal
}

func (w watch) Handle(c *controlsock.Conn, req control.Request) (control.Reply, error) {
	rep, err := w.Terminal.Handle(c, req)
	if err == nil && req.Op == control.OpWait {
		select {
		case w.tm.attached <- struct{}{}:
		default:
		}
	}
	return rep, err
}

// spy records the keys the keypad took and holds its start.
type spy struct {
	backend.Keypad
	tm *Terminal
}

func (s spy) ReadPasscode(ctx context.Context, started func()) ([]byte, error) {
	select {
	case <-s.tm.hold:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return s.Keypad.ReadPasscode(ctx, started)
}

func (s spy) Press(k control.Key) error {
	err := s.Keypad.Press(k)
	if err == nil {
		select {
		case s.tm.Keys <- k:
		default:
		}
	}
	return err
}

// logger discards the daemon's log unless PI2PI_TEST_LOG is set.
func logger(t testing.TB) *slog.Logger {
	if os.Getenv("PI2PI_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, nil)).With("test", t.Name())
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}
