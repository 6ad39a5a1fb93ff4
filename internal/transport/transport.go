// Package transport is the seam between the pi2pi handlers and the network.
// Listen and Dial return connections that know the peer's verified identity.
//
// In secure mode every connection is TLS 1.3 with an Ed25519 certificate on
// both sides. Certificates are self-signed: trust comes from pinning the
// peer's public key in VerifyConnection (which, unlike
// VerifyPeerCertificate, also runs on resumed sessions; tickets are off
// anyway). In plain mode connections are the course handouts' clear-text TCP and carry
// no identity.
package transport

import (
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"
)

// Mode selects clear-text or TLS connections. There is no fallback from one
// to the other.
type Mode string

// The two security modes.
const (
	Secure Mode = "secure"
	Plain  Mode = "plain"
)

// ParseMode accepts "secure" or "plain".
func ParseMode(s string) (Mode, error) {
	switch Mode(s) {
	case Secure, Plain:
		return Mode(s), nil
	}
	return "", fmt.Errorf("security mode %q is not one of secure, plain", s)
}

// DefaultHandshakeTimeout bounds a TLS handshake when the context has no
// earlier deadline.
const DefaultHandshakeTimeout = 10 * time.Second

// VerifyFunc checks the peer's public key once the handshake has proved the
// peer holds the private key. A nil VerifyFunc accepts any key.
type VerifyFunc func(peer ed25519.PublicKey) error

// ErrKeyMismatch is wrapped by the errors of PinKey.
var ErrKeyMismatch = errors.New("peer key does not match the expected key")

// PinKey returns a VerifyFunc that accepts only want.
func PinKey(want ed25519.PublicKey) VerifyFunc {
	return func(peer ed25519.PublicKey) error {
		if !want.Equal(peer) {
			return fmt.Errorf("%w: got %s, want %s", ErrKeyMismatch, Fingerprint(peer), Fingerprint(want))
		}
		return nil
	}
}

// Config holds what both ends of a connection need.
type Config struct {
	Mode     Mode
	Identity *Identity // required in secure mode
	// LocalIP, when valid, is the source address of outgoing connections.
	LocalIP netip.Addr
}

func (c *Config) check() error {
	switch c.Mode {
	case Plain:
		return nil
	case Secure:
		if c.Identity == nil {
			return errors.New("transport: secure mode needs an identity")
		}
		return nil
	}
	return fmt.Errorf("transport: unknown mode %q", c.Mode)
}

// tlsConfig builds a TLS 1.3 configuration that presents our identity and
// hands the peer's key to verify.
func (c *Config) tlsConfig(server bool, verify VerifyFunc) *tls.Config {
	return &tls.Config{
		MinVersion:             tls.VersionTLS13,
		MaxVersion:             tls.VersionTLS13,
		Certificates:           []tls.Certificate{c.Identity.cert},
		SessionTicketsDisabled: true,
		ClientAuth:             tls.RequireAnyClientCert,
		// Self-signed certificates: the chain is not verified, the key is
		// pinned below instead.
		InsecureSkipVerify: !server,
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("peer sent no certificate")
			}
			pub, ok := cs.PeerCertificates[0].PublicKey.(ed25519.PublicKey)
			if !ok {
				return errors.New("peer certificate does not hold an Ed25519 key")
			}
			if verify != nil {
				return verify(pub)
			}
			return nil
		},
	}
}

// Conn is a connection plus, in secure mode, the peer's verified key.
type Conn struct {
	net.Conn
	raw     net.Conn
	tls     *tls.Conn
	batch   *batchConn // under tls, in secure mode
	peerKey ed25519.PublicKey
}

// PeerKey returns the peer's public key, nil in plain mode or before the
// handshake.
func (c *Conn) PeerKey() ed25519.PublicKey { return c.peerKey }

// Raw returns the TCP connection itself (under TLS in secure mode), for
// socket options such as keepalive timing.
func (c *Conn) Raw() net.Conn { return c.raw }

// Secure reports whether the connection is TLS.
func (c *Conn) Secure() bool { return c.tls != nil }

// RemoteIP returns the peer's IP address, unmapped from IPv4-in-IPv6.
func (c *Conn) RemoteIP() netip.Addr { return AddrIP(c.raw.RemoteAddr()) }

// AddrIP returns the IP of a TCP address, or the zero Addr.
func AddrIP(a net.Addr) netip.Addr {
	if ta, ok := a.(*net.TCPAddr); ok {
		ip, _ := netip.AddrFromSlice(ta.IP)
		return ip.Unmap()
	}
	if ap, err := netip.ParseAddrPort(a.String()); err == nil {
		return ap.Addr().Unmap()
	}
	return netip.Addr{}
}

// CloseWrite shuts down the sending side, telling the peer we are done.
func (c *Conn) CloseWrite() error {
	if c.tls != nil {
		return c.tls.CloseWrite()
	}
	if cw, ok := c.raw.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// handshake runs the TLS handshake under ctx and a default time limit.
func (c *Conn) handshake(ctx context.Context) error {
	if c.tls == nil {
		return nil
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultHandshakeTimeout)
		defer cancel()
	}
	if err := c.tls.HandshakeContext(ctx); err != nil {
		return fmt.Errorf("TLS handshake with %s: %w", c.raw.RemoteAddr(), err)
	}
	c.peerKey = c.tls.ConnectionState().PeerCertificates[0].PublicKey.(ed25519.PublicKey)
	return nil
}

// Server wraps an accepted connection and, in secure mode, runs the server
// side of the handshake. verify may be nil to accept any client key (the
// directory binds keys to users after login; a callee checks the key after
// its own lookup).
func (c *Config) Server(ctx context.Context, raw net.Conn, verify VerifyFunc) (*Conn, error) {
	if err := c.check(); err != nil {
		return nil, err
	}
	conn := &Conn{Conn: raw, raw: raw}
	if c.Mode == Secure {
		conn.batch = &batchConn{Conn: raw}
		conn.tls = tls.Server(conn.batch, c.tlsConfig(true, verify))
		conn.Conn = conn.tls
		if err := conn.handshake(ctx); err != nil {
			raw.Close()
			return nil, err
		}
	}
	return conn, nil
}

// Client wraps a dialled connection and, in secure mode, runs the client
// side of the handshake, accepting the server only if verify approves its
// key. In secure mode verify must not be nil.
func (c *Config) Client(ctx context.Context, raw net.Conn, verify VerifyFunc) (*Conn, error) {
	if err := c.check(); err != nil {
		return nil, err
	}
	conn := &Conn{Conn: raw, raw: raw}
	if c.Mode == Secure {
		if verify == nil {
			raw.Close()
			return nil, errors.New("transport: refusing an unpinned secure connection")
		}
		conn.batch = &batchConn{Conn: raw}
		conn.tls = tls.Client(conn.batch, c.tlsConfig(false, verify))
		conn.Conn = conn.tls
		if err := conn.handshake(ctx); err != nil {
			raw.Close()
			return nil, err
		}
	}
	return conn, nil
}

// Dial connects to addr (from LocalIP when set) and runs Client.
func (c *Config) Dial(ctx context.Context, addr string, verify VerifyFunc) (*Conn, error) {
	d := net.Dialer{Timeout: DefaultHandshakeTimeout}
	if c.LocalIP.IsValid() && !c.LocalIP.IsUnspecified() {
		d.LocalAddr = &net.TCPAddr{IP: c.LocalIP.AsSlice()}
		d.Control = bindNoPort
	}
	raw, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	if tc, ok := raw.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
	return c.Client(ctx, raw, verify)
}

// Listener accepts raw connections; the handler calls Config.Server on each
// in its own goroutine, so a slow handshake never blocks the accept loop.
type Listener struct {
	net.Listener
	Config *Config
}

// Listen opens a TCP listener for cfg.
func Listen(cfg *Config, addr string) (*Listener, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	return &Listener{Listener: l, Config: cfg}, nil
}
