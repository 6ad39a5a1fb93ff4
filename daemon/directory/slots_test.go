package directory

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pi2pi/pi2pi/internal/transport"
)

// rawServer runs handle on every TCP connection, with no TLS or protocol.
func rawServer(t *testing.T, handle func(net.Conn)) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { l.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(5 * time.Second))
				handle(c)
			}()
		}
	}()
	return l.Addr().String()
}

// Issue 11 item 9: a server that hangs up during the handshake without
// sending anything (as pi2pi-server does when its connection slots are
// full) is busy or unreachable; nothing suggests plain mode.
func TestSecureAgainstFullServerIsNotCalledPlain(t *testing.T) {
	for name, handle := range map[string]func(net.Conn){
		"closes at once":          func(net.Conn) {},
		"reads, then hangs up":    func(c net.Conn) { c.Read(make([]byte, 64)) },
		"resets after the hello":  func(c net.Conn) { c.Read(make([]byte, 64)); c.(*net.TCPConn).SetLinger(0) },
		"closes after a pause":    func(net.Conn) { time.Sleep(50 * time.Millisecond) },
		"half-closes, then reads": func(c net.Conn) { c.(*net.TCPConn).CloseWrite(); io.Copy(io.Discard, c) },
	} {
		t.Run(name, func(t *testing.T) {
			addr := rawServer(t, handle)
			c := secureClient(t, addr, transport.PinKey(nil))
			c.Timeout = 10 * time.Second
			err := c.Auth(context.Background(), "ali", "x")
			if !errors.Is(err, ErrUnreachable) || errors.Is(err, ErrNotTLS) || strings.Contains(err.Error(), "plain") ||
				!strings.Contains(err.Error(), "busy") {
				t.Fatalf("err = %v, want ErrUnreachable saying the server may be busy, with no word of plain mode", err)
			}
		})
	}
}

// A plain server answers the ClientHello in clear text: that, and only
// that, is reported as plain mode.
func TestSecureAgainstPlainServer(t *testing.T) {
	addr := rawServer(t, func(c net.Conn) {
		c.Read(make([]byte, 4096))
		io.WriteString(c, "pi2pi-server: expected a JSON request; this server runs with --security plain\n")
		c.(*net.TCPConn).CloseWrite()
		io.Copy(io.Discard, c)
	})
	c := secureClient(t, addr, transport.PinKey(nil))
	err := c.Auth(context.Background(), "ali", "x")
	if !errors.Is(err, ErrNotTLS) || !strings.Contains(err.Error(), "does not speak TLS; is it running with --security plain?") {
		t.Fatalf("err = %v", err)
	}
}

// Issue 11 item 4: the failedattempts key of AUTHREPLY reaches the caller.
func TestLoginReportsFailedAttempts(t *testing.T) {
	for _, tc := range []struct {
		reply string
		want  int
	}{
		{`{"msgtype":"AUTHREPLY","userid":"ali","status":"GRANTED","failedattempts":"3"}`, 3},
		{`{"msgtype":"AUTHREPLY","userid":"ali","status":"GRANTED"}`, 0},
		{`{"msgtype":"AUTHREPLY","userid":"ali","status":"GRANTED","failedattempts":"lots"}`, 0},
		{`{"msgtype":"AUTHREPLY","userid":"ali","status":"GRANTED","failedattempts":7}`, 0},
		{`{"msgtype":"AUTHREPLY","userid":"ali","status":"GRANTED","failedattempts":"-2"}`, 0},
	} {
		fs := startFake(t, transport.Secure, raw(tc.reply))
		c := secureClient(t, fs.addr, transport.PinKey(fs.id.Public))
		n, err := c.Login(context.Background(), "ali", "x")
		if err != nil || n != tc.want {
			t.Errorf("%s: Login = %d, %v; want %d", tc.reply, n, err, tc.want)
		}
	}
	fs := startFake(t, transport.Secure, raw(`{"msgtype":"AUTHREPLY","userid":"","status":"REFUSED","failedattempts":"3"}`))
	c := secureClient(t, fs.addr, transport.PinKey(fs.id.Public))
	if n, err := c.Login(context.Background(), "ali", "x"); !errors.Is(err, ErrRefused) || n != 0 {
		t.Errorf("refused: Login = %d, %v", n, err)
	}
}
