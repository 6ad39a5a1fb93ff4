package transport

import (
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"syscall"
	"testing"
	"time"
)

// directServer accepts on loopback and runs serve on each connection.
func directServer(t *testing.T, serve func(net.Conn)) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				serve(c)
			}()
		}
	}()
	return l.Addr().String()
}

func TestDirectRoundTripFromSourceIP(t *testing.T) {
	seen := make(chan string, 1)
	addr := directServer(t, func(c net.Conn) {
		seen <- c.RemoteAddr().(*net.TCPAddr).IP.String()
		buf := make([]byte, 5)
		if _, err := io.ReadFull(c, buf); err == nil {
			c.Write(append(buf, '!'))
		}
	})
	cfg := &Config{Mode: Plain, LocalIP: netip.MustParseAddr("127.0.0.7")}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d, err := cfg.DialDirect(ctx, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := d.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(d)
	if err != nil || string(got) != "hello!" {
		t.Fatalf("read %q, %v", got, err)
	}
	if ip := <-seen; ip != "127.0.0.7" {
		t.Fatalf("the server saw %s, want the source IP 127.0.0.7", ip)
	}
}

func TestDirectSilentServerTimesOut(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	addr := directServer(t, func(net.Conn) { <-release })
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	d, err := (&Config{Mode: Plain}).DialDirect(ctx, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	_, err = d.Read(make([]byte, 10))
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read from a silent server: %v, want a timeout", err)
	}
}

func TestDirectCancelWakesRead(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	addr := directServer(t, func(net.Conn) { <-release })
	ctx, cancel := context.WithCancel(context.Background())
	d, err := (&Config{Mode: Plain}).DialDirect(ctx, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	done := make(chan error, 1)
	go func() {
		_, err := d.Read(make([]byte, 10))
		done <- err
	}()
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("read after cancel: %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("cancelling the context did not wake a blocked read")
	}
}

func TestDirectRefusedAndEOF(t *testing.T) {
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	closed := l.Addr().String()
	l.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := (&Config{Mode: Plain}).DialDirect(ctx, closed)
	var oe *net.OpError
	if !errors.As(err, &oe) || oe.Op != "dial" || !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("dial to a closed port: %v, want a dial OpError with ECONNREFUSED", err)
	}
	addr := directServer(t, func(net.Conn) {}) // closes at once
	d, err := (&Config{Mode: Plain}).DialDirect(ctx, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := d.Read(make([]byte, 10)); err != io.EOF {
		t.Fatalf("read after the server closed: %v, want io.EOF", err)
	}
}

func TestDirectOnlyForPlainIPs(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		cfg  *Config
		addr string
	}{
		{&Config{Mode: Plain}, "localhost:8082"},
		{&Config{Mode: Secure}, "127.0.0.1:8082"},
		{&Config{Mode: Plain, LocalIP: netip.MustParseAddr("::1")}, "127.0.0.1:8082"},
	} {
		if _, err := tc.cfg.DialDirect(ctx, tc.addr); !errors.Is(err, ErrNoDirect) {
			t.Errorf("%v to %s: %v, want ErrNoDirect", tc.cfg.Mode, tc.addr, err)
		}
	}
}

// A context that ends after its exchange, while the connection is being
// closed elsewhere, must not shut down a later connection that got the
// same descriptor number (as directory.Client closes them in a goroutine).
func TestDirectEndedContextSparesTheNextConnection(t *testing.T) {
	addr := directServer(t, func(c net.Conn) {
		buf := make([]byte, 4)
		if _, err := io.ReadFull(c, buf); err == nil {
			c.Write(buf)
		}
	})
	cfg := &Config{Mode: Plain}
	for i := range 300 {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		d, err := cfg.DialDirect(ctx, addr)
		if err != nil {
			t.Fatalf("exchange %d: %v", i, err)
		}
		if _, err := d.Write([]byte("ping")); err != nil {
			t.Fatalf("exchange %d: write: %v", i, err)
		}
		buf := make([]byte, 4)
		if _, err := io.ReadFull(d, buf); err != nil || string(buf) != "ping" {
			t.Fatalf("exchange %d: read %q, %v", i, buf, err)
		}
		go d.Close()
		cancel()
	}
}
