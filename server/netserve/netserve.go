// Package netserve accepts connections for pi2pi-server and runs a message
// handler on each, with the limits a server open to a network needs: a cap
// on connections in total and per source address, a deadline to start each
// message and a shorter one to finish it (a peer sending one byte a second
// is dropped), a write deadline, the 4 KiB message limit, and a clean close
// on anything that is not a JSON object with a msgtype.
//
// In secure mode each connection is first a TLS 1.3 handshake (see
// internal/transport); a client that starts with plain JSON instead is
// logged and closed.
package netserve

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"sync"
	"time"

	"github.com/pi2pi/pi2pi/internal/transport"
	"github.com/pi2pi/pi2pi/internal/wire"
)

// Peer is what a handler knows about the other end.
type Peer struct {
	IP  netip.Addr
	Key ed25519.PublicKey // verified TLS key; nil in plain mode
}

// Handler answers one decoded message. keep=false closes the connection
// without a reply (unknown msgtype, or the server cannot answer).
type Handler interface {
	Handle(ctx context.Context, p Peer, m wire.Message) (reply wire.Message, keep bool)
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, p Peer, m wire.Message) (wire.Message, bool)

// Handle calls f.
func (f HandlerFunc) Handle(ctx context.Context, p Peer, m wire.Message) (wire.Message, bool) {
	return f(ctx, p, m)
}

// Limits bound what one connection, and all of them, may cost.
type Limits struct {
	IdleTimeout      time.Duration // to receive the first byte of a message
	MessageTimeout   time.Duration // to receive the rest of it
	WriteTimeout     time.Duration // to send a reply
	HandshakeTimeout time.Duration // TLS handshake, secure mode
	MaxConns         int           // open connections in total
	MaxConnsPerIP    int           // open connections from one address
}

// DefaultLimits suit a directory serving a classroom or a small site.
var DefaultLimits = Limits{
	IdleTimeout:      60 * time.Second,
	MessageTimeout:   5 * time.Second,
	WriteTimeout:     10 * time.Second,
	HandshakeTimeout: 10 * time.Second,
	MaxConns:         2048,
	MaxConnsPerIP:    64,
}

// Server serves Handler on listeners.
type Server struct {
	Transport *transport.Config
	Handler   Handler
	Limits    Limits
	Log       *slog.Logger

	mu     sync.Mutex
	total  int
	perIP  map[netip.Addr]int
	conns  map[net.Conn]struct{}
	wg     sync.WaitGroup
	warned time.Time
	// plainWarned rate-limits the warning about plain-text clients.
	plainWarned time.Time
}

// Serve accepts connections on l until ctx ends or l fails. It closes l and
// every connection it opened before returning.
func (s *Server) Serve(ctx context.Context, l net.Listener) error {
	if s.Log == nil {
		s.Log = slog.New(slog.DiscardHandler)
	}
	s.mu.Lock()
	if s.perIP == nil {
		s.perIP = map[netip.Addr]int{}
		s.conns = map[net.Conn]struct{}{}
	}
	s.mu.Unlock()
	stop := context.AfterFunc(ctx, func() { l.Close() })
	defer stop()
	defer s.closeAll()
	var delay time.Duration
	for {
		c, err := l.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, os.ErrDeadlineExceeded) || isTemporary(err) {
				// Out of file descriptors and the like: back off and go on.
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				s.Log.Warn("accept failed; retrying", "err", err, "retry_in", delay)
				time.Sleep(delay)
				continue
			}
			return err
		}
		delay = 0
		ip := transport.AddrIP(c.RemoteAddr())
		if !s.admit(c, ip) {
			c.Close()
			continue
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer s.release(c, ip)
			s.serveConn(ctx, c, ip)
		}()
	}
}

func isTemporary(err error) bool {
	var t interface{ Temporary() bool }
	return errors.As(err, &t) && t.Temporary()
}

func (s *Server) admit(c net.Conn, ip netip.Addr) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	reason := ""
	switch {
	case s.Limits.MaxConns > 0 && s.total >= s.Limits.MaxConns:
		reason = "too many connections"
	case s.Limits.MaxConnsPerIP > 0 && s.perIP[ip] >= s.Limits.MaxConnsPerIP:
		reason = "too many connections from one address"
	}
	if reason != "" {
		if time.Since(s.warned) > 10*time.Second {
			s.warned = time.Now()
			s.Log.Warn("refusing connections", "reason", reason, "remote_ip", ip.String(),
				"max_conns", s.Limits.MaxConns, "max_conns_per_ip", s.Limits.MaxConnsPerIP)
		}
		return false
	}
	s.total++
	s.perIP[ip]++
	s.conns[c] = struct{}{}
	return true
}

func (s *Server) release(c net.Conn, ip netip.Addr) {
	c.Close()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.total--
	if s.perIP[ip]--; s.perIP[ip] <= 0 {
		delete(s.perIP, ip)
	}
	delete(s.conns, c)
}

func (s *Server) closeAll() {
	s.mu.Lock()
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// Open returns the number of open connections.
func (s *Server) Open() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.total
}

// peekConn lets us look at the first byte before the TLS handshake.
type peekConn struct {
	net.Conn
	r *bufio.Reader
}

func (p *peekConn) Read(b []byte) (int, error) { return p.r.Read(b) }

func (p *peekConn) CloseWrite() error {
	if cw, ok := p.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// deadlineReader moves the read deadline from "idle" to "message" when the
// first byte of a message arrives.
type deadlineReader struct {
	c        net.Conn
	awaiting bool
	msg      time.Duration
}

func (d *deadlineReader) Read(b []byte) (int, error) {
	n, err := d.c.Read(b)
	if n > 0 && d.awaiting {
		d.awaiting = false
		_ = d.c.SetReadDeadline(time.Now().Add(d.msg))
	}
	return n, err
}

func (s *Server) serveConn(ctx context.Context, raw net.Conn, ip netip.Addr) {
	log := s.Log.With("remote_ip", ip.String())
	if tc, ok := raw.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
	var conn net.Conn = raw
	peer := Peer{IP: ip}
	if s.Transport != nil && s.Transport.Mode == transport.Secure {
		_ = raw.SetDeadline(time.Now().Add(s.Limits.HandshakeTimeout))
		pc := &peekConn{Conn: raw, r: bufio.NewReaderSize(raw, 16)}
		first, err := pc.r.Peek(1)
		if err != nil {
			log.Debug("connection closed before the TLS handshake", "err", err)
			return
		}
		if first[0] == '{' || first[0] == ' ' || first[0] == '\n' || first[0] == '\r' || first[0] == '\t' {
			lvl := slog.LevelDebug
			s.mu.Lock()
			if time.Since(s.plainWarned) > 10*time.Second {
				s.plainWarned, lvl = time.Now(), slog.LevelWarn
			}
			s.mu.Unlock()
			log.Log(ctx, lvl, "refused a plain-text client on a secure server: the client must use --security secure "+
				"(or run this server with --security plain for course-style terminals)")
			return
		}
		hctx, cancel := context.WithTimeout(ctx, s.Limits.HandshakeTimeout)
		tc, err := s.Transport.Server(hctx, pc, nil)
		cancel()
		if err != nil {
			log.Info("TLS handshake failed", "err", err)
			return
		}
		conn = tc
		peer.Key = tc.PeerKey()
	}
	dr := &deadlineReader{c: conn, msg: s.Limits.MessageTimeout}
	dec := wire.NewDecoder(dr)
	for {
		if dec.Buffered() > 0 {
			dr.awaiting = false
			_ = conn.SetReadDeadline(time.Now().Add(s.Limits.MessageTimeout))
		} else {
			dr.awaiting = true
			_ = conn.SetReadDeadline(time.Now().Add(s.Limits.IdleTimeout))
		}
		raw, err := dec.Next()
		if err != nil {
			logReadError(log, err)
			return
		}
		m, err := wire.Unmarshal(raw)
		if err != nil {
			log.Info("closing connection: message is not a pi2pi request", "err", err)
			return
		}
		reply, keep := s.Handler.Handle(ctx, peer, m)
		if !keep {
			log.Info("closing connection: unexpected msgtype", "msgtype", clip(m.Type))
			return
		}
		_ = conn.SetWriteDeadline(time.Now().Add(s.Limits.WriteTimeout))
		if err := wire.Write(conn, reply); err != nil {
			log.Info("write failed", "err", err)
			return
		}
	}
}

func logReadError(log *slog.Logger, err error) {
	var ne net.Error
	switch {
	case errors.Is(err, io.EOF):
		// The client is done: the normal end of a connection.
	case errors.As(err, &ne) && ne.Timeout():
		log.Info("closing connection: client too slow or idle")
	case errors.Is(err, wire.ErrTooLarge):
		log.Info("closing connection: message over the size limit", "limit", wire.MaxMessage)
	case errors.Is(err, wire.ErrNotObject):
		log.Info("closing connection: not a JSON object")
	case errors.Is(err, io.ErrUnexpectedEOF):
		log.Info("client closed the connection in the middle of a message")
	default:
		log.Debug("read failed", "err", err)
	}
}

// clip shortens client-supplied text before it is logged.
func clip(s string) string {
	const n = 40
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
