package controlsock

import (
	"context"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/pi2pi/pi2pi/internal/control"
)

// streamHandler admits the token "good" once and echoes the stream.
type streamHandler struct {
	fakeHandler
	used bool
	uid  chan int
}

func (h *streamHandler) Stream(token string, uid int) (func(*Stream), error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if token != "good" || h.used {
		return nil, control.Refusal(control.CodeNoChat, "", nil)
	}
	h.used = true
	h.uid <- uid
	return func(s *Stream) {
		_, _ = io.Copy(s, s)
		_ = s.CloseWrite()
	}, nil
}

// The stream request is a connection's one request, without a hello: a
// wrong or used token is refused with a code and the connection closed;
// the right one gets an OK result, then the bytes flow, those sent right
// behind the request line too.
func TestStreamRequest(t *testing.T) {
	h := &streamHandler{uid: make(chan int, 1)}
	path, _ := serve(t, h)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := control.DialStream(ctx, path, "bad"); control.CodeOf(err) != control.CodeNoChat {
		t.Fatalf("wrong token: err = %v, want code %s", err, control.CodeNoChat)
	}
	// The request and the first bytes in one write.
	c := dialRaw(t, path)
	req := append(control.AppendRequest(nil, control.Request{Op: control.OpStream, Token: "good"}), '\n')
	if _, err := c.Write(append(req, "pipelined\n"...)); err != nil {
		t.Fatal(err)
	}
	if uid := <-h.uid; uid != -1 && uid != os.Getuid() {
		t.Fatalf("the handler was told uid %d", uid)
	}
	if r := c.recv(t); !r.OK || r.Type != control.TypeResult {
		t.Fatalf("result %+v", r)
	}
	_, _ = c.Write([]byte("then more\n"))
	_ = c.Conn.(*net.UnixConn).CloseWrite()
	got, err := io.ReadAll(c.r)
	if err != nil || string(got) != "pipelined\nthen more\n" {
		t.Fatalf("echo %q, %v", got, err)
	}
	if _, err := control.DialStream(ctx, path, "good"); control.CodeOf(err) != control.CodeNoChat {
		t.Fatalf("used token: err = %v, want code %s", err, control.CodeNoChat)
	}
}

// A stream request on a connection that said hello is refused: a data
// stream is a connection of its own.
func TestStreamAfterHelloRefused(t *testing.T) {
	h := &streamHandler{uid: make(chan int, 1)}
	path, _ := serve(t, h)
	c := dialRaw(t, path)
	c.send(t, hello)
	c.recv(t)
	c.send(t, `{"id":2,"op":"stream","token":"good"}`)
	if r := c.recv(t); r.OK || r.Code != control.CodeUsage {
		t.Fatalf("stream after hello: %+v", r)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.used {
		t.Fatal("the token was used by a stream request after a hello")
	}
}

// A handler that takes no streams refuses them.
func TestStreamWithoutHandler(t *testing.T) {
	path, _ := serve(t, &fakeHandler{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := control.DialStream(ctx, path, "good"); control.CodeOf(err) != control.CodeUsage {
		t.Fatalf("err = %v", err)
	}
}

// sndbufHandler reports the send buffer of the one stream it takes.
type sndbufHandler struct {
	fakeHandler
	got chan int
}

func (h *sndbufHandler) Stream(string, int) (func(*Stream), error) {
	return func(s *Stream) {
		n := -1
		if rc, err := s.nc.(*net.UnixConn).SyscallConn(); err == nil {
			_ = rc.Control(func(fd uintptr) {
				n, _ = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUF)
			})
		}
		h.got <- n
	}, nil
}

// pi2pid's end of a data stream asks for control.StreamSocketBuffer: the
// kernel gives twice that, or twice net.core.wmem_max when that is less.
func TestStreamSocketBuffer(t *testing.T) {
	raw, err := os.ReadFile("/proc/sys/net/core/wmem_max")
	if err != nil {
		t.Skipf("cannot read the kernel's limit: %v", err)
	}
	wmemMax, err := strconv.Atoi(strings.TrimSpace(string(raw)))
	if err != nil {
		t.Fatal(err)
	}
	h := &sndbufHandler{got: make(chan int, 1)}
	path, _ := serve(t, h)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := control.DialStream(ctx, path, "any")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got, want := <-h.got, 2*min(control.StreamSocketBuffer, wmemMax); got < want {
		t.Fatalf("send buffer %d bytes, want %d (wmem_max %d)", got, want, wmemMax)
	}
}
