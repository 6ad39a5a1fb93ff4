package transport

import (
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// DirectConn is a plain TCP connection for one short request and reply,
// made of blocking system calls: the calling thread sleeps in the kernel
// and the kernel wakes it when the peer answers, where a net.Conn would
// park the goroutine in Go's network poller and hand the wake-up between
// threads. On a busy two-core Pi that hand-off is a large part of a
// loopback round trip (see docs/benchmarks.md, BenchmarkConnect), and the
// callee's own lookup sits on the critical path of every chat set-up.
//
// Deadlines come from the context given to DialDirect, as socket timeouts;
// when the context ends early the socket is shut down, which wakes a
// blocked call. It holds an OS thread while it waits, so it is for brief
// exchanges only (pi2pid's plain-mode requests to the server).
type DirectConn struct {
	fd       int
	addr     string
	ctx      context.Context
	stop     func() bool
	deadline time.Time

	// mu orders the shutdown of an ending context against Close: once
	// the descriptor is closed its number may belong to another socket.
	mu     sync.Mutex
	closed bool
}

// ErrNoDirect means DialDirect cannot be used: secure mode, an address
// that is not an IP literal, or a system without it. Use Dial.
var ErrNoDirect = errors.New("transport: no direct connection for this address")

// DialDirect connects to addr, an IP:port, from LocalIP when set, in plain
// mode. Errors read like net.Dial's (a *net.OpError); a timeout is a
// net.Error whose Timeout is true.
func (c *Config) DialDirect(ctx context.Context, addr string) (*DirectConn, error) {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil || c.Mode != Plain {
		return nil, ErrNoDirect
	}
	dst := ap.Addr().Unmap()
	family := unix.AF_INET6
	if dst.Is4() {
		family = unix.AF_INET
	}
	src := c.LocalIP.Unmap()
	if src.IsValid() && !src.IsUnspecified() && src.Is4() != dst.Is4() {
		return nil, ErrNoDirect // let Dial report the mismatch
	}
	fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, opError("dial", addr, os.NewSyscallError("socket", err))
	}
	d := &DirectConn{fd: fd, addr: addr, ctx: ctx}
	d.deadline, _ = ctx.Deadline()
	if err := d.setTimeouts(); err != nil {
		unix.Close(fd)
		return nil, opError("dial", addr, err)
	}
	if src.IsValid() && !src.IsUnspecified() {
		// As bindNoPort: the port is chosen at connect time.
		_ = unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_BIND_ADDRESS_NO_PORT, 1)
		if err := unix.Bind(fd, sockaddr(src, 0)); err != nil {
			unix.Close(fd)
			return nil, opError("dial", addr, os.NewSyscallError("bind", err))
		}
	}
	d.stop = context.AfterFunc(ctx, func() {
		d.mu.Lock()
		defer d.mu.Unlock()
		if !d.closed {
			_ = unix.Shutdown(fd, unix.SHUT_RDWR)
		}
	})
	for {
		err = unix.Connect(fd, sockaddr(dst, ap.Port()))
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		d.Close()
		return nil, opError("dial", addr, d.cause("connect", err))
	}
	return d, nil
}

func sockaddr(ip netip.Addr, port uint16) unix.Sockaddr {
	if ip.Is4() {
		return &unix.SockaddrInet4{Addr: ip.As4(), Port: int(port)}
	}
	return &unix.SockaddrInet6{Addr: ip.As16(), Port: int(port)}
}

// setTimeouts turns the deadline into the socket's send and receive
// timeouts (which also bound connect).
func (d *DirectConn) setTimeouts() error {
	if d.deadline.IsZero() {
		return nil
	}
	left := time.Until(d.deadline)
	if left <= 0 {
		return timeoutError{}
	}
	tv := unix.NsecToTimeval(left.Nanoseconds())
	if err := unix.SetsockoptTimeval(d.fd, unix.SOL_SOCKET, unix.SO_SNDTIMEO, &tv); err != nil {
		return os.NewSyscallError("setsockopt", err)
	}
	return os.NewSyscallError("setsockopt", unix.SetsockoptTimeval(d.fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv))
}

// cause explains a failed call: the context's end, a timeout, or errno.
func (d *DirectConn) cause(call string, errno error) error {
	if err := d.ctx.Err(); err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return timeoutError{}
		}
		return err
	}
	if errno == unix.EAGAIN || errno == unix.EINPROGRESS {
		return timeoutError{} // SO_RCVTIMEO or SO_SNDTIMEO ran out
	}
	return os.NewSyscallError(call, errno)
}

func opError(op, addr string, err error) error {
	var a net.Addr
	if ap, perr := netip.ParseAddrPort(addr); perr == nil {
		a = net.TCPAddrFromAddrPort(ap)
	}
	return &net.OpError{Op: op, Net: "tcp", Addr: a, Err: err}
}

// Read reads what has arrived, waiting for it in the kernel; io.EOF when
// the peer closed its side.
func (d *DirectConn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for {
		n, err := unix.Read(d.fd, p)
		switch {
		case err == unix.EINTR:
			continue
		case err != nil:
			return 0, opError("read", d.addr, d.cause("read", err))
		case n == 0:
			if err := d.ctx.Err(); err != nil {
				return 0, opError("read", d.addr, d.cause("read", err))
			}
			return 0, io.EOF
		}
		return n, nil
	}
}

// Write writes all of p.
func (d *DirectConn) Write(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		m, err := unix.Write(d.fd, p[n:])
		switch {
		case err == unix.EINTR:
			continue
		case err != nil:
			return n, opError("write", d.addr, d.cause("write", err))
		}
		n += m
	}
	return n, nil
}

// Unwatch stops watching the context given to DialDirect: its end no
// longer shuts the socket down. For a connection whose exchange is over
// and whose Close comes later.
func (d *DirectConn) Unwatch() {
	if d.stop != nil {
		d.stop()
	}
}

// Close closes the connection. It may run while the context ends, but not
// while a Read or Write is under way.
func (d *DirectConn) Close() error {
	if d.stop != nil {
		d.stop()
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil
	}
	d.closed = true
	return os.NewSyscallError("close", unix.Close(d.fd))
}

// timeoutError is the net.Error of a deadline that passed.
type timeoutError struct{}

func (timeoutError) Error() string   { return "i/o timeout" }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }
func (timeoutError) Is(err error) bool {
	return err == os.ErrDeadlineExceeded
}
