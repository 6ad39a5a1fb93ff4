// Package netserve accepts connections for pi2pi-server and runs a message
// handler on each, with the limits a server open to a network needs: a cap
// on connections in total and per source (an IPv4 address or an IPv6 /64,
// see guard.Source), a short deadline for the first request, a deadline to
// start each later message and a shorter one to finish it (a peer sending
// one byte a second is dropped), a write deadline, the 4 KiB message limit,
// and a clean close on anything that is not a JSON object with a msgtype.
//
// In secure mode each connection is first a TLS 1.3 handshake (see
// internal/transport); a client that starts with plain JSON instead is
// logged and closed. In plain mode, a client that sends something other
// than JSON (a TLS ClientHello, say) is told so in one line of clear text
// before the close, so that it can tell a plain server from a busy one.
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
	"sync"
	"time"

	"github.com/pi2pi/pi2pi/internal/transport"
	"github.com/pi2pi/pi2pi/internal/wire"
	"github.com/pi2pi/pi2pi/server/guard"
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
	FirstTimeout     time.Duration // to receive the first byte of the first message (after the handshake)
	IdleTimeout      time.Duration // to receive the first byte of a later message
	MessageTimeout   time.Duration // to receive the rest of it
	WriteTimeout     time.Duration // to send a reply
	HandshakeTimeout time.Duration // TLS handshake, secure mode
	MaxConns         int           // open connections in total
	MaxConnsPerIP    int           // open connections from one source (address, or IPv6 /64)
}

// DefaultLimits suit a directory serving a classroom or a small site.
var DefaultLimits = Limits{
	FirstTimeout:     5 * time.Second,
	IdleTimeout:      60 * time.Second,
	MessageTimeout:   5 * time.Second,
	WriteTimeout:     10 * time.Second,
	HandshakeTimeout: 5 * time.Second,
	MaxConns:         2048,
	MaxConnsPerIP:    64,
}

// Server serves Handler on listeners.
type Server struct {
	Transport *transport.Config
	Handler   Handler
	Limits    Limits
	Log       *slog.Logger

	mu    sync.Mutex
	total int
	perIP map[netip.Prefix]int
	conns map[net.Conn]*slot
	// evicted counts connections closed to make room (see evictOne).
	evicted int
	wg      sync.WaitGroup
	warned  time.Time
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
		s.perIP = map[netip.Prefix]int{}
		s.conns = map[net.Conn]*slot{}
	}
	s.mu.Unlock()
	stop := context.AfterFunc(ctx, func() { l.Close() })
	defer stop()
	defer s.closeAll()
	for {
		c, err := transport.Accept(l, s.Log)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		ip := transport.AddrIP(c.RemoteAddr())
		sl := s.admit(c, ip)
		if sl == nil {
			c.Close()
			continue
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer s.release(c)
			s.serveConn(ctx, c, ip, sl)
		}()
	}
}

// admit counts c in, or returns nil when it must be closed at once. When
// every slot is taken, the connection that has waited longest for its
// client is closed to make room (evictOne).
func (s *Server) admit(c net.Conn, ip netip.Addr) *slot {
	src := guard.Source(ip)
	s.mu.Lock()
	defer s.mu.Unlock()
	reason := ""
	switch {
	case s.Limits.MaxConnsPerIP > 0 && s.perIP[src] >= s.Limits.MaxConnsPerIP:
		reason = "too many connections from one address (IPv6: one /64)"
	case s.Limits.MaxConns > 0 && s.total >= s.Limits.MaxConns && !s.evictOne():
		reason = "too many connections, all busy answering"
	}
	if reason != "" {
		if time.Since(s.warned) > 10*time.Second {
			s.warned = time.Now()
			s.Log.Warn("refusing connections", "reason", reason, "remote_ip", ip.String(),
				"max_conns", s.Limits.MaxConns, "max_conns_per_ip", s.Limits.MaxConnsPerIP)
		}
		return nil
	}
	s.total++
	s.perIP[src]++
	sl := &slot{src: src}
	sl.wait()
	s.conns[c] = sl
	return sl
}

func (s *Server) release(c net.Conn) {
	c.Close()
	s.mu.Lock()
	defer s.mu.Unlock()
	if sl, ok := s.conns[c]; ok { // not already dropped by evictOne
		s.forget(c, sl)
	}
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

// deadlineReader enforces the two read deadlines of a message: IdleTimeout
// for its first byte and MessageTimeout, counted from that byte, for the
// rest. A deadline costs a timer update, so it is only moved when it
// matters: the message deadline is armed only when the message does not
// arrive in the read that brought its first byte (the usual case is one
// read per message), and the idle deadline is renewed only when it has
// drifted more than idleSlack below IdleTimeout, which makes the idle
// limit at most idleSlack shorter, never longer.
type deadlineReader struct {
	c         net.Conn
	idle, msg time.Duration

	awaiting bool      // no byte of the next message has arrived yet
	started  time.Time // when the first byte of the current message arrived
	msgArmed bool      // the read deadline is started+msg
	// idleUntil is the read deadline in force when it is an idle deadline,
	// zero when it is a message deadline.
	idleUntil time.Time
}

// slack returns how far a renewed deadline may lag behind its full length.
func slack(d time.Duration) time.Duration { return d / 32 }

// awaitMessage prepares for the next message. buffered tells whether some
// of it has already been read.
func (d *deadlineReader) awaitMessage(buffered bool) {
	now := time.Now()
	d.msgArmed = false
	if buffered {
		d.awaiting, d.started = false, now
		return
	}
	d.awaiting = true
	if d.idleUntil.Sub(now) < d.idle-slack(d.idle) {
		d.idleUntil = now.Add(d.idle)
		_ = d.c.SetReadDeadline(d.idleUntil)
	}
}

func (d *deadlineReader) Read(b []byte) (int, error) {
	if !d.awaiting && !d.msgArmed {
		// A second read for one message: the rest must come in time.
		d.msgArmed, d.idleUntil = true, time.Time{}
		_ = d.c.SetReadDeadline(d.started.Add(d.msg))
	}
	n, err := d.c.Read(b)
	if d.awaiting && !onlySpace(b[:n]) {
		d.awaiting, d.started = false, time.Now()
	}
	return n, err
}

// onlySpace reports whether b holds nothing but the whitespace allowed
// between messages: a newline that trails the previous message in a
// packet of its own does not start the next message's clock.
func onlySpace(b []byte) bool {
	for _, c := range b {
		if c != ' ' && c != '\t' && c != '\r' && c != '\n' {
			return false
		}
	}
	return true
}

// readState is the reading side of a connection: its deadlines and its
// decoder, whose 4 KiB buffer is reused from one connection to the next
// (a course client opens a connection for every request).
type readState struct {
	dr  deadlineReader
	dec *wire.Decoder // reads from dr
}

var readStates = sync.Pool{New: func() any {
	st := &readState{}
	st.dec = wire.NewDecoder(&st.dr)
	return st
}}

func getReadState(c net.Conn, lim Limits) *readState {
	st := readStates.Get().(*readState)
	st.dr = deadlineReader{c: c, idle: lim.IdleTimeout, msg: lim.MessageTimeout}
	return st
}

// putReadState drops what the connection left buffered and recycles st.
func putReadState(st *readState) {
	st.dec.Reader().Reset(&st.dr)
	st.dr = deadlineReader{}
	readStates.Put(st)
}

// writeDeadline renews the write deadline when less than WriteTimeout minus
// its slack is left.
type writeDeadline struct {
	c     net.Conn
	limit time.Duration
	until time.Time
}

func (w *writeDeadline) renew() {
	now := time.Now()
	if w.until.Sub(now) < w.limit-slack(w.limit) {
		w.until = now.Add(w.limit)
		_ = w.c.SetWriteDeadline(w.until)
	}
}

// connLog builds the per-connection logger only when something is logged:
// most connections log nothing.
type connLog struct {
	base *slog.Logger
	ip   netip.Addr
	l    *slog.Logger
}

func (c *connLog) get() *slog.Logger {
	if c.l == nil {
		c.l = c.base.With("remote_ip", c.ip.String())
	}
	return c.l
}

func (s *Server) serveConn(ctx context.Context, raw net.Conn, ip netip.Addr, sl *slot) {
	// No SetNoDelay: the net package already turns Nagle off on every TCP
	// connection it accepts, systemd-passed listeners included.
	log := connLog{base: s.Log, ip: ip}
	var conn net.Conn = raw
	peer := Peer{IP: ip}
	if s.Transport != nil && s.Transport.Mode == transport.Secure {
		_ = raw.SetDeadline(time.Now().Add(s.Limits.HandshakeTimeout))
		pc := &peekConn{Conn: raw, r: bufio.NewReaderSize(raw, 16)}
		first, err := pc.r.Peek(1)
		if err != nil {
			log.get().Debug("connection closed before the TLS handshake", "err", err)
			return
		}
		if first[0] == '{' || first[0] == ' ' || first[0] == '\n' || first[0] == '\r' || first[0] == '\t' {
			lvl := slog.LevelDebug
			s.mu.Lock()
			if time.Since(s.plainWarned) > 10*time.Second {
				s.plainWarned, lvl = time.Now(), slog.LevelWarn
			}
			s.mu.Unlock()
			log.get().Log(ctx, lvl, "refused a plain-text client on a secure server: the client must use --security secure "+
				"(or run this server with --security plain for course-style terminals)")
			return
		}
		hctx, cancel := context.WithTimeout(ctx, s.Limits.HandshakeTimeout)
		tc, err := s.Transport.Server(hctx, pc, nil)
		cancel()
		if err != nil {
			log.get().Info("TLS handshake failed", "err", err)
			return
		}
		conn = tc
		peer.Key = tc.PeerKey()
	}
	st := getReadState(conn, s.Limits)
	defer putReadState(st)
	dr, dec := &st.dr, st.dec
	wd := writeDeadline{c: conn, limit: s.Limits.WriteTimeout}
	if s.Limits.FirstTimeout > 0 {
		dr.idle = min(s.Limits.FirstTimeout, dr.idle)
	}
	for first := true; ; first = false {
		if !first {
			dr.idle = s.Limits.IdleTimeout
		}
		dr.awaitMessage(dec.Buffered() > 0)
		raw, err := dec.Next()
		if err != nil {
			logReadError(&log, err)
			if errors.Is(err, wire.ErrNotObject) && (s.Transport == nil || s.Transport.Mode != transport.Secure) {
				wd.renew()
				tellPlain(conn)
			}
			return
		}
		sl.busy()
		m, err := wire.Unmarshal(raw)
		if err != nil {
			log.get().Info("closing connection: message is not a pi2pi request", "err", err)
			return
		}
		reply, keep := s.Handler.Handle(ctx, peer, m)
		if !keep {
			log.get().Info("closing connection: unexpected msgtype", "msgtype", clip(m.Type))
			return
		}
		wd.renew()
		if err := wire.Write(conn, reply); err != nil {
			log.get().Info("write failed", "err", err)
			return
		}
		sl.wait()
	}
}

// plainNotice answers a client that does not speak JSON on a plain server,
// in clear text, so that a TLS client sees that clear text came back.
const plainNotice = "pi2pi-server: expected a JSON request; this server runs with --security plain (the course protocol in clear text, no TLS)\n"

// tellPlain sends plainNotice, then half-closes and reads what the client
// still sends for a moment, so that the close does not reset the
// connection before the client has read the notice.
func tellPlain(conn net.Conn) {
	if _, err := io.WriteString(conn, plainNotice); err != nil {
		return
	}
	if cw, ok := conn.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
	_ = conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	_, _ = io.Copy(io.Discard, io.LimitReader(conn, 64<<10))
}

func logReadError(cl *connLog, err error) {
	var ne net.Error
	if errors.Is(err, io.EOF) {
		// The client is done: the normal end of a connection.
		return
	}
	log := cl.get()
	switch {
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
