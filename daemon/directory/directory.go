// Package directory is pi2pid's client of the pi2pi-server: AUTHREQ,
// LOOKUPREQ and LOGOUTREQ, one TCP (or TLS) connection per request as
// course-style servers expect, each with a deadline.
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
	"strings"
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
)

// Client is the real Directory.
type Client struct {
	Addr      string
	Transport *transport.Config    // mode, identity and source IP
	Verify    transport.VerifyFunc // server pin; required in secure mode
	Timeout   time.Duration        // per request; 10s when zero
}

// Auth implements Directory.
func (c *Client) Auth(ctx context.Context, userID, credential string) error {
	rep, err := c.roundTrip(ctx, wire.Message{Type: wire.AuthReq, UserID: userID, Passcode: credential}, wire.AuthReply)
	if err != nil {
		return err
	}
	switch rep.Status {
	case wire.Granted:
		return nil
	case wire.Refused:
		return ErrRefused
	}
	return fmt.Errorf("%w: AUTHREPLY status %q", ErrMalformed, rep.Status)
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
		// The seeds' own NOTFOUND example says SUCCESS with empty fields.
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

// roundTrip opens a connection, sends req, reads one reply of type want and
// closes the connection.
func (c *Client) roundTrip(ctx context.Context, req wire.Message, want string) (wire.Message, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout())
	defer cancel()
	verify := c.Verify
	conn, err := c.Transport.Dial(ctx, c.Addr, verify)
	if err != nil {
		return wire.Message{}, c.dialError(err)
	}
	defer conn.Close()
	dl, _ := ctx.Deadline()
	_ = conn.SetDeadline(dl)
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if err := wire.Write(conn, req); err != nil {
		return wire.Message{}, fmt.Errorf("%w: sending %s to %s: %v", ErrUnreachable, req.Type, c.Addr, err)
	}
	rep, err := wire.NewDecoder(conn).Decode()
	if err != nil {
		return wire.Message{}, c.readError(req.Type, err)
	}
	if rep.Type != want {
		return wire.Message{}, fmt.Errorf("%w: the server at %s answered %s with %q", ErrMalformed, c.Addr, req.Type, rep.Type)
	}
	return rep, nil
}

func (c *Client) dialError(err error) error {
	if errors.Is(err, transport.ErrServerKeyChanged) {
		return fmt.Errorf("%w: %v", ErrKeyChanged, err)
	}
	if c.Transport.Mode == transport.Secure && !isTimeout(err) && handshakeFailed(err) {
		return fmt.Errorf("%w: the server at %s does not speak TLS; is it running with --security plain? "+
			"(then start pi2pid with --security plain too, knowing that logins and chats go in clear text) [%v]",
			ErrNotTLS, c.Addr, err)
	}
	if isTimeout(err) {
		return fmt.Errorf("%w: no answer from the server at %s within %s; is pi2pi-server running there?", ErrUnreachable, c.Addr, c.timeout())
	}
	return fmt.Errorf("%w: cannot connect to the server at %s: %v; is pi2pi-server running there?", ErrUnreachable, c.Addr, err)
}

// handshakeFailed reports a TLS handshake that broke because the other end
// is not a TLS server: it closed the connection, reset it or sent
// something that is not a TLS record.
func handshakeFailed(err error) bool {
	if !strings.Contains(err.Error(), "TLS handshake") {
		return false
	}
	var rh tls.RecordHeaderError
	return errors.As(err, &rh) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET)
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
