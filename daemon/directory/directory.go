// Package directory is pi2pid's client of the pi2pi-server: AUTHREQ,
// LOOKUPREQ and LOGOUTREQ, each with a deadline. In plain mode it opens one
// TCP connection per request, as course-style servers expect; in secure
// mode it keeps one TLS connection to our own server for successive
// requests (see Client).
//
// The daemon talks to it through the Directory interface so that tests can
// put a fake in its place.
package directory

import (
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/pi2pi/pi2pi/internal/transport"
	"github.com/pi2pi/pi2pi/internal/wire"
)

// Directory is what the daemon needs from the server.
type Directory interface {
	// Auth sends AUTHREQ; nil means GRANTED.
	Auth(ctx context.Context, userID, credential string) error
	// Lookup sends LOOKUPREQ from self for target.
	Lookup(ctx context.Context, self, target string) (Entry, error)
	// Logout sends the LOGOUTREQ extension.
	Logout(ctx context.Context, userID string) error
}

// Entry is a successful LOOKUPREPLY.
type Entry struct {
	UserID  string
	Address string            // IP address, as the server saw the user log in
	KeyText string            // encryptionkey as sent
	Key     ed25519.PublicKey // parsed key; nil when KeyText is not one of ours
}

// Errors of the directory, wrapped with details.
var (
	ErrRefused     = errors.New("the server refused the login")
	ErrNotFound    = errors.New("not logged in")
	ErrUnreachable = errors.New("server unreachable")
	ErrMalformed   = errors.New("malformed reply from the server")
	ErrKeyChanged  = errors.New("the server's key changed")
	ErrNotTLS      = errors.New("the server does not speak TLS")
	// ErrHungUp (with ErrUnreachable) is a secure server that closed the
	// connection during the TLS handshake: busy (all its slots taken) or
	// restarting.
	ErrHungUp = errors.New("the server hung up during the TLS handshake")
)

// DefaultIdleTimeout is how long a secure connection to the server is kept
// for the next request when Client.IdleTimeout is zero. It is well under
// pi2pi-server's own idle limit (60s), so the server rarely closes first.
const DefaultIdleTimeout = 30 * time.Second

// Client is the real Directory.
//
// In plain mode it opens one connection per request, as course-style
// servers expect. In secure mode, where the server is ours and answers any
// number of requests on one connection, it keeps the last connection open
// for IdleTimeout and sends the next request on it, which saves a TLS
// handshake per request. Set the fields before the first request; after
// changing Verify or Transport, call CloseIdle.
type Client struct {
	Addr        string
	Transport   *transport.Config    // mode, identity and source IP
	Verify      transport.VerifyFunc // server pin; required in secure mode
	Timeout     time.Duration        // per request; 10s when zero
	IdleTimeout time.Duration        // secure mode: keep a connection this long; DefaultIdleTimeout when zero

	mu       sync.Mutex
	idle     *serverConn // at most one connection waits for the next request
	closed   bool
	noDirect bool // tests: plain requests through net.Conn, as in secure mode
}

// serverConn is a connection to the server with its decoder, which must
// outlive one request: it may hold bytes already read.
type serverConn struct {
	conn  *transport.Conn
	addr  string
	dec   *wire.Decoder
	timer *time.Timer // closes the connection when it has been idle too long
}

// staleError marks a failure that shows a reused connection was already
// dead: the request may be retried once on a fresh connection.
type staleError struct{ err error }

func (e *staleError) Error() string { return e.err.Error() }
func (e *staleError) Unwrap() error { return e.err }

func unwrapStale(err error) error {
	var s *staleError
	if errors.As(err, &s) {
		return s.err
	}
	return err
}

// brokenRead reports a read that failed because the connection was gone
// before any of the reply arrived.
func brokenRead(err error) bool {
	return !isTimeout(err) && (errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, net.ErrClosed))
}

func (c *Client) reuse() bool { return c.Transport.Mode == transport.Secure }

func (c *Client) idleTimeout() time.Duration {
	if c.IdleTimeout > 0 {
		return c.IdleTimeout
	}
	return DefaultIdleTimeout
}

// takeIdle returns the kept connection, if any, for one request.
func (c *Client) takeIdle() *serverConn {
	c.mu.Lock()
	defer c.mu.Unlock()
	sc := c.idle
	c.idle = nil
	if sc == nil {
		return nil
	}
	sc.timer.Stop()
	if sc.addr != c.Addr {
		sc.conn.Close()
		return nil
	}
	return sc
}

// putIdle keeps sc for the next request, or closes it when one is kept
// already or the client is closed.
func (c *Client) putIdle(sc *serverConn) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || c.idle != nil {
		sc.conn.Close()
		return
	}
	c.idle = sc
	sc.timer = time.AfterFunc(c.idleTimeout(), func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.idle == sc {
			c.idle = nil
			sc.conn.Close()
		}
	})
}

// CloseIdle closes the connection kept for the next request, if any. Later
// requests open a new one.
func (c *Client) CloseIdle() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.idle != nil {
		c.idle.timer.Stop()
		c.idle.conn.Close()
		c.idle = nil
	}
}

// Close closes the kept connection and keeps none from now on; requests
// still work, one connection each.
func (c *Client) Close() error {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.CloseIdle()
	return nil
}

// Auth implements Directory.
func (c *Client) Auth(ctx context.Context, userID, credential string) error {
	_, err := c.Login(ctx, userID, credential)
	return err
}

// LoginReporter is a Directory whose logins also report how many login
// attempts failed since the user's previous login.
type LoginReporter interface {
	Login(ctx context.Context, userID, credential string) (failedAttempts int, err error)
}

// Login is Auth that also returns the number of failed login attempts
// since the user's previous login, from pi2pi-server's failedattempts
// extension of AUTHREPLY (0 when the server does not send it, or sends
// something other than a decimal number).
func (c *Client) Login(ctx context.Context, userID, credential string) (int, error) {
	rep, err := c.roundTrip(ctx, wire.Message{Type: wire.AuthReq, UserID: userID, Passcode: credential}, wire.AuthReply)
	if err != nil {
		return 0, err
	}
	switch rep.Status {
	case wire.Granted:
		n, err := strconv.ParseUint(rep.FailedAttempts, 10, 31)
		if err != nil {
			return 0, nil
		}
		return int(n), nil
	case wire.Refused:
		return 0, ErrRefused
	}
	return 0, fmt.Errorf("%w: AUTHREPLY status %q", ErrMalformed, rep.Status)
}

// Lookup implements Directory.
func (c *Client) Lookup(ctx context.Context, self, target string) (Entry, error) {
	rep, err := c.roundTrip(ctx, wire.Message{Type: wire.LookupReq, UserID: self, Lookup: target}, wire.LookupReply)
	if err != nil {
		return Entry{}, err
	}
	switch rep.Status {
	case wire.NotFound:
		return Entry{}, fmt.Errorf("%s is %w", target, ErrNotFound)
	case wire.Success:
	default:
		return Entry{}, fmt.Errorf("%w: LOOKUPREPLY status %q", ErrMalformed, rep.Status)
	}
	if rep.Address == "" {
		// The course handouts' own NOTFOUND example says SUCCESS with empty fields.
		return Entry{}, fmt.Errorf("%s is %w", target, ErrNotFound)
	}
	e := Entry{UserID: target, Address: rep.Address, KeyText: rep.EncryptionKey}
	if rep.Answer != "" {
		if id, err := wire.NormalizeUserID(rep.Answer); err == nil {
			e.UserID = id
		}
	}
	if k, err := transport.ParseKeyString(rep.EncryptionKey); err == nil {
		e.Key = k
	}
	return e, nil
}

// Logout implements Directory.
func (c *Client) Logout(ctx context.Context, userID string) error {
	rep, err := c.roundTrip(ctx, wire.Message{Type: wire.LogoutReq, UserID: userID}, wire.LogoutReply)
	if err != nil {
		return err
	}
	if rep.Status == wire.Refused {
		return fmt.Errorf("%w: logout refused", ErrNotFound)
	}
	return nil
}

func (c *Client) timeout() time.Duration {
	if c.Timeout > 0 {
		return c.Timeout
	}
	return 10 * time.Second
}

// roundTrip sends req and reads one reply of type want. In secure mode it
// first tries the connection kept from an earlier request; when that one
// turns out to be dead (the server closed it while idle, or restarted), it
// retries once on a fresh connection. A fresh connection is never retried,
// nor is a request that timed out.
func (c *Client) roundTrip(ctx context.Context, req wire.Message, want string) (wire.Message, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout())
	defer cancel()
	if sc := c.takeIdle(); sc != nil {
		rep, err := c.exchange(ctx, sc, req, want)
		var stale *staleError
		if !errors.As(err, &stale) || ctx.Err() != nil {
			return rep, unwrapStale(err)
		}
	}
	if !c.reuse() && !c.noDirect {
		dc, err := c.Transport.DialDirect(ctx, c.Addr)
		if err == nil {
			return c.exchangeDirect(ctx, dc, req, want)
		}
		if !errors.Is(err, transport.ErrNoDirect) {
			return wire.Message{}, c.dialError(err)
		}
	}
	conn, err := c.Transport.Dial(ctx, c.Addr, c.Verify)
	if err != nil {
		return wire.Message{}, c.dialError(err)
	}
	rep, err := c.exchange(ctx, &serverConn{conn: conn, addr: c.Addr, dec: wire.NewDecoder(conn)}, req, want)
	return rep, unwrapStale(err)
}

// exchangeDirect runs one plain-mode request on a connection of its own
// made of blocking calls (transport.DirectConn): the lookup of a chat's
// initiator sits on the critical path of every incoming chat, and this
// saves the network poller's hand-offs there.
func (c *Client) exchangeDirect(ctx context.Context, dc *transport.DirectConn, req wire.Message, want string) (wire.Message, error) {
	// Closing sends the FIN and, on loopback, runs the server's side of it
	// in the closing thread: once the exchange is over that is no longer
	// the caller's business. Under WithDeferredClose the caller closes it
	// when its own critical work is done; otherwise another goroutine does.
	defer func() {
		dc.Unwatch()
		if q, ok := ctx.Value(deferredKey{}).(*deferred); ok {
			q.add(dc)
		} else {
			go dc.Close()
		}
	}()
	if err := wire.Write(dc, req); err != nil {
		return wire.Message{}, fmt.Errorf("%w: sending %s to %s: %v", ErrUnreachable, req.Type, c.Addr, err)
	}
	rep, err := wire.NewDecoder(dc).Decode()
	if err != nil {
		return wire.Message{}, c.readError(req.Type, err)
	}
	if rep.Type != want {
		return wire.Message{}, fmt.Errorf("%w: the server at %s answered %s with %q", ErrMalformed, c.Addr, req.Type, rep.Type)
	}
	return rep, nil
}

// exchange runs one request on sc under ctx's deadline. On success sc goes
// back to the pool (secure mode) or is closed; on failure it is closed.
func (c *Client) exchange(ctx context.Context, sc *serverConn, req wire.Message, want string) (wire.Message, error) {
	keep := false
	defer func() {
		if keep {
			c.putIdle(sc)
		} else {
			sc.conn.Close()
		}
	}()
	dl, _ := ctx.Deadline()
	_ = sc.conn.SetDeadline(dl)
	stop := context.AfterFunc(ctx, func() { _ = sc.conn.SetDeadline(time.Unix(1, 0)) })
	if err := wire.Write(sc.conn, req); err != nil {
		stop()
		if isTimeout(err) {
			return wire.Message{}, fmt.Errorf("%w: sending %s to %s: %v", ErrUnreachable, req.Type, c.Addr, err)
		}
		return wire.Message{}, &staleError{fmt.Errorf("%w: sending %s to %s: %v", ErrUnreachable, req.Type, c.Addr, err)}
	}
	rep, err := sc.dec.Decode()
	// When stop reports false the deadline has been moved to the past:
	// the connection cannot serve another request.
	stopped := stop()
	if err != nil {
		rerr := c.readError(req.Type, err)
		if brokenRead(err) {
			return wire.Message{}, &staleError{rerr}
		}
		return wire.Message{}, rerr
	}
	if rep.Type != want {
		return wire.Message{}, fmt.Errorf("%w: the server at %s answered %s with %q", ErrMalformed, c.Addr, req.Type, rep.Type)
	}
	// Anything buffered past the reply is not ours to answer: start afresh.
	keep = stopped && c.reuse() && sc.dec.Buffered() == 0
	return rep, nil
}

func (c *Client) dialError(err error) error {
	if errors.Is(err, transport.ErrServerKeyChanged) {
		return fmt.Errorf("%w: %v", ErrKeyChanged, err)
	}
	if c.Transport.Mode == transport.Secure && !isTimeout(err) && clearTextCameBack(err) {
		return fmt.Errorf("%w: the server at %s does not speak TLS; is it running with --security plain? "+
			"(then start pi2pid with --security plain too, knowing that logins and chats go in clear text) [%v]",
			ErrNotTLS, c.Addr, err)
	}
	if c.Transport.Mode == transport.Secure && !isTimeout(err) && hungUp(err) {
		return fmt.Errorf("%w: the server at %s closed the connection during the TLS handshake without answering: "+
			"it may be busy (all its connection slots taken) or restarting; try again in a minute, and if it persists, "+
			"tell its administrator [%w: %v]", ErrUnreachable, c.Addr, ErrHungUp, err)
	}
	if isTimeout(err) {
		return fmt.Errorf("%w: no answer from the server at %s within %s; is pi2pi-server running there?", ErrUnreachable, c.Addr, c.timeout())
	}
	return fmt.Errorf("%w: cannot connect to the server at %s: %v; is pi2pi-server running there?", ErrUnreachable, c.Addr, err)
}

// clearTextCameBack reports a TLS handshake that broke because the other
// end answered with something that is not a TLS record: a plain server.
// A server that only hangs up is not taken for a plain one: a secure server
// whose connection slots are full does the same (see hungUp).
func clearTextCameBack(err error) bool {
	var rh tls.RecordHeaderError
	return strings.Contains(err.Error(), "TLS handshake") && errors.As(err, &rh)
}

// hungUp reports a TLS handshake that broke because the other end closed
// or reset the connection without answering.
func hungUp(err error) bool {
	return strings.Contains(err.Error(), "TLS handshake") && (errors.Is(err, io.EOF) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE))
}

func (c *Client) readError(op string, err error) error {
	switch {
	case isTimeout(err):
		return fmt.Errorf("%w: the server at %s did not answer %s within %s", ErrUnreachable, c.Addr, op, c.timeout())
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.ECONNRESET):
		return fmt.Errorf("%w: the server at %s closed the connection without answering %s", ErrUnreachable, c.Addr, op)
	case errors.Is(err, wire.ErrNotObject) && c.Transport.Mode == transport.Plain:
		return fmt.Errorf("%w: the server at %s did not answer in JSON; if it runs in secure mode (the default), start pi2pid with --security secure", ErrMalformed, c.Addr)
	}
	return fmt.Errorf("%w: the server at %s answered %s with: %v", ErrMalformed, c.Addr, op, err)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()
}

type deferredKey struct{}

// deferred holds the connections of requests made under WithDeferredClose.
type deferred struct {
	mu    sync.Mutex
	conns []io.Closer
}

func (q *deferred) add(c io.Closer) {
	q.mu.Lock()
	q.conns = append(q.conns, c)
	q.mu.Unlock()
}

// WithDeferredClose returns a context under which a plain-mode request
// leaves the close of its connection, once its reply is read, to the
// returned function, which the caller calls when its own critical work is
// done (pi2pid: after the CONNECTREPLY is on its way). Call it exactly
// once.
func WithDeferredClose(ctx context.Context) (context.Context, func()) {
	q := &deferred{}
	return context.WithValue(ctx, deferredKey{}, q), func() {
		q.mu.Lock()
		conns := q.conns
		q.conns = nil
		q.mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	}
}
