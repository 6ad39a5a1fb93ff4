package sockets

import (
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func TestListenUnix(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "control.sock")
	l, err := ListenUnix(path, quiet)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o660 {
		t.Fatalf("mode %v err %v", fi.Mode(), err)
	}
	// A live daemon keeps its socket.
	if _, err := ListenUnix(path, quiet); err == nil || !strings.Contains(err.Error(), "already listening") {
		t.Fatalf("err = %v", err)
	}
	// A stale socket file (nobody listening) is replaced.
	l.(*unixListener).UnixListener.Close() // closed without removing the file
	if _, err := os.Stat(path); err != nil {
		t.Fatal("test setup: stale socket file missing")
	}
	l2, err := ListenUnix(path, quiet)
	if err != nil {
		t.Fatalf("stale socket not replaced: %v", err)
	}
	l2.Close()
	// Something that is not a socket is left alone.
	if err := os.WriteFile(path, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ListenUnix(path, quiet); err == nil || !strings.Contains(err.Error(), "not a socket") {
		t.Fatalf("err = %v", err)
	}
}

func TestOpenWithoutSystemd(t *testing.T) {
	t.Setenv("LISTEN_FDS", "")
	path := filepath.Join(t.TempDir(), "control.sock")
	ls, err := Open("127.0.0.1:0", path, quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer ls.Close()
	if len(ls.FromSystemd) != 0 || ls.Peer == nil || ls.Control == nil {
		t.Fatalf("%+v", ls)
	}
	if _, err := Open("127.0.0.1:bad", filepath.Join(t.TempDir(), "c.sock"), quiet); err == nil {
		t.Fatal("bad listen address accepted")
	}
}

// The peer listener hands over a connection once its first bytes are
// there (TCP_DEFER_ACCEPT), and a CONNECTREQ sent at once still arrives.
func TestPeerListenerDefersAccept(t *testing.T) {
	t.Setenv("LISTEN_FDS", "")
	ls, err := Open("127.0.0.1:0", filepath.Join(t.TempDir(), "control.sock"), quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer ls.Close()
	rc, err := ls.Peer.(*net.TCPListener).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var v int
	var gerr error
	_ = rc.Control(func(fd uintptr) {
		v, gerr = unix.GetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_DEFER_ACCEPT)
	})
	if gerr != nil || v == 0 {
		t.Fatalf("TCP_DEFER_ACCEPT = %d, %v; want it set", v, gerr)
	}
	c, err := net.Dial("tcp", ls.Peer.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte(`{"msgtype":"CONNECTREQ","initiator":"ali"}`)); err != nil {
		t.Fatal(err)
	}
	in, err := ls.Peer.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	_ = in.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 64)
	if n, err := in.Read(buf); err != nil || !strings.HasPrefix(string(buf[:n]), `{"msgtype":"CONNECTREQ"`) {
		t.Fatalf("read %q, %v", buf[:n], err)
	}
}
