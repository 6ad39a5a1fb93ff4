package controltest

import (
	"bufio"
	"context"
	"net"
	"os"
	"testing"

	"github.com/pi2pi/pi2pi/internal/control"
	"golang.org/x/sys/unix"
)

// StreamPair returns a data stream whose pi2pid end is the returned
// connection (a socket pair; the stream request is answered here).
func StreamPair(t testing.TB) (*control.Stream, net.Conn) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	conn := func(fd int) net.Conn {
		f := os.NewFile(uintptr(fd), "socketpair")
		defer f.Close()
		c, err := net.FileConn(f)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	ours, theirs := conn(fds[0]), conn(fds[1])
	go func() {
		if _, err := bufio.NewReader(theirs).ReadString('\n'); err == nil {
			rep := control.Reply{Type: control.TypeResult, OK: true}
			_, _ = theirs.Write(append(control.AppendReply(nil, rep), '\n'))
		}
	}()
	s, err := control.OpenStream(context.Background(), ours, "token")
	if err != nil {
		t.Fatal(err)
	}
	return s, theirs
}
