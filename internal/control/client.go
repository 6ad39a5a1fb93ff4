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
	"sync"
	"syscall"
	"time"
)

// ErrDaemonNotRunning means nothing listens on the control socket.
var ErrDaemonNotRunning = errors.New("pi2pid is not running")

// ErrPermission means the socket exists but we may not open it.
var ErrPermission = errors.New("permission denied on the pi2pid control socket")

// ErrClosed is returned by calls on a closed or broken connection.
var ErrClosed = errors.New("connection to pi2pid closed")

// VersionError reports a daemon speaking another protocol version.
type VersionError struct {
	Client, Daemon int
}

func (e *VersionError) Error() string {
	if e.Daemon > e.Client {
		return fmt.Sprintf("pi2pid speaks control protocol v%d but this pi2pictl speaks v%d: upgrade pi2pictl", e.Daemon, e.Client)
	}
	return fmt.Sprintf("pi2pid speaks control protocol v%d but this pi2pictl speaks v%d: upgrade pi2pid (and restart it)", e.Daemon, e.Client)
}

// Client is a connection to pi2pid. Results come back to Call; events are
// delivered, in order, on Events until the connection closes.
type Client struct {
	conn   net.Conn
	wmu    sync.Mutex
	wbuf   []byte // encoded request, reused under wmu
	mu     sync.Mutex
	nextID int
	wait   map[int]chan Reply
	events chan Reply
	done   chan struct{}
	quit   chan struct{} // closed by Close
	once   sync.Once
	err    error
	// Daemon is the daemon's build string from its hello.
	Daemon string
}

// Dial connects to the daemon's socket at path and exchanges hellos.
func Dial(ctx context.Context, path string) (*Client, error) {
	conn, err := dialSocket(ctx, path)
	if err != nil {
		return nil, err
	}
	return NewClient(ctx, conn)
}

// dialSocket connects to the daemon's socket at path, naming the usual
// failures: no daemon, no permission.
func dialSocket(ctx context.Context, path string) (net.Conn, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		switch {
		case errors.Is(err, os.ErrNotExist), errors.Is(err, syscall.ECONNREFUSED):
			return nil, fmt.Errorf("%w (no daemon at %s)", ErrDaemonNotRunning, path)
		case errors.Is(err, os.ErrPermission):
			return nil, fmt.Errorf("%w %s", ErrPermission, path)
		}
		return nil, err
	}
	return conn, nil
}

// NewClient runs the hello exchange on an open connection.
func NewClient(ctx context.Context, conn net.Conn) (*Client, error) {
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	} else {
		_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	}
	if err := json.NewEncoder(conn).Encode(Request{Op: OpHello, Version: Version}); err != nil {
		conn.Close()
		return nil, fmt.Errorf("talking to pi2pid: %w", err)
	}
	r := bufio.NewReaderSize(conn, 64<<10)
	var scratch []byte
	line, err := ReadLine(r, &scratch)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("talking to pi2pid: %w", err)
	}
	var hello Reply
	if err := json.Unmarshal(line, &hello); err != nil || hello.Type != TypeHello {
		conn.Close()
		return nil, fmt.Errorf("pi2pid sent an unexpected greeting; is %s really a pi2pid socket?", conn.RemoteAddr())
	}
	if hello.Error != "" {
		// A daemon that cannot start says why in its hello.
		conn.Close()
		return nil, &Error{Code: hello.Code, Detail: hello.Error}
	}
	if hello.Version != Version {
		conn.Close()
		return nil, &VersionError{Client: Version, Daemon: hello.Version}
	}
	_ = conn.SetDeadline(time.Time{})
	c := &Client{
		conn:   conn,
		wait:   map[int]chan Reply{},
		events: make(chan Reply, 256),
		done:   make(chan struct{}),
		quit:   make(chan struct{}),
		Daemon: hello.Daemon,
	}
	go c.readLoop(r)
	return c, nil
}

func (c *Client) readLoop(r *bufio.Reader) {
	var err error
	defer func() {
		c.mu.Lock()
		// Whatever ended the connection, calls on it now fail with
		// ErrClosed; the cause, if it says more than EOF, is kept.
		switch {
		case err == nil, errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed):
			err = ErrClosed
		default:
			err = fmt.Errorf("%w: %w", ErrClosed, err)
		}
		c.err = err
		for id, ch := range c.wait {
			close(ch)
			delete(c.wait, id)
		}
		c.mu.Unlock()
		close(c.events)
		close(c.done)
	}()
	var scratch []byte
	for {
		var line []byte
		line, err = ReadLine(r, &scratch)
		if err != nil {
			return
		}
		var rep Reply
		if rep, err = ParseReply(line); err != nil {
			err = fmt.Errorf("pi2pid sent malformed JSON: %w", err)
			return
		}
		switch rep.Type {
		case TypeResult:
			c.mu.Lock()
			ch := c.wait[rep.ID]
			delete(c.wait, rep.ID)
			c.mu.Unlock()
			if ch != nil {
				ch <- rep
			}
		case TypeEvent:
			// Close must end this loop even when nobody reads events.
			select {
			case c.events <- rep:
			case <-c.quit:
				return
			}
		}
	}
}

// Events returns the stream of events. It is closed when the connection
// ends. Read it steadily: a full buffer holds up results too.
func (c *Client) Events() <-chan Reply { return c.events }

// Done is closed when the connection has ended.
func (c *Client) Done() <-chan struct{} { return c.done }

// Err returns why the connection ended, once Done is closed.
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Call sends req and waits for its result. A refused request returns an
// *Error carrying the daemon's code, whom it is about and its detail.
func (c *Client) Call(ctx context.Context, req Request) (Reply, error) {
	ch, err := c.send(req)
	if err != nil {
		return Reply{}, err
	}
	select {
	case rep, ok := <-ch:
		if !ok {
			return Reply{}, ErrClosed
		}
		if !rep.OK {
			if e := ErrorOf(rep); e != nil {
				return rep, e
			}
			return rep, &Error{Code: CodeInternal, Detail: "pi2pid refused without a code"}
		}
		return rep, nil
	case <-ctx.Done():
		return Reply{}, ctx.Err()
	}
}

// Send sends req without waiting for its result (used for chat text, where
// results would only slow the stream; errors still arrive as events).
func (c *Client) Send(req Request) error {
	_, err := c.send(req)
	return err
}

func (c *Client) send(req Request) (chan Reply, error) {
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return nil, c.err
	}
	c.nextID++
	req.ID = c.nextID
	ch := make(chan Reply, 1)
	c.wait[req.ID] = ch
	c.mu.Unlock()
	c.wmu.Lock()
	c.wbuf = append(AppendRequest(c.wbuf[:0], req), '\n')
	_, err := c.conn.Write(c.wbuf)
	if cap(c.wbuf) > 2*MaxLine {
		c.wbuf = nil
	}
	c.wmu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrClosed, err)
	}
	return ch, nil
}

// Close ends the connection. Events and Done are closed soon after, even
// if events were left unread.
func (c *Client) Close() error {
	c.once.Do(func() { close(c.quit) })
	return c.conn.Close()
}
