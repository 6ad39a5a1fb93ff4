// Package peerlink is the terminal-to-terminal half of the course handouts' protocol:
// CONNECTREQ and CONNECTREPLY on port 8085, then the chat phase, a raw byte
// stream in both directions.
//
// Course-style peers send JSON without a newline and may write their first
// chat bytes right behind the CONNECTREPLY, so the chat phase reads from
// the wire.Decoder's Reader, never from the bare connection.
package peerlink

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/pi2pi/pi2pi/internal/wire"
)

// RefusedError is a CONNECTREPLY REFUSED. Reason is "" when the peer gave
// none (course-style peers do not).
type RefusedError struct{ Reason string }

func (e *RefusedError) Error() string {
	if e.Reason == "" {
		return "the peer refused the chat"
	}
	return "the peer refused the chat: " + e.Reason
}

// ErrProtocol wraps replies that break the protocol.
var ErrProtocol = errors.New("peer broke the protocol")

// Request is the initiator's side: it sends CONNECTREQ on conn and waits up
// to timeout for CONNECTREPLY. On ACCEPTED the chat phase begins.
func Request(conn net.Conn, self string, timeout time.Duration) (*Chat, error) {
	_ = conn.SetDeadline(time.Now().Add(timeout))
	if err := wire.Write(conn, wire.Message{Type: wire.ConnectReq, Initiator: self}); err != nil {
		return nil, fmt.Errorf("sending CONNECTREQ: %w", err)
	}
	dec := wire.NewDecoder(conn)
	rep, err := dec.Decode()
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return nil, fmt.Errorf("no CONNECTREPLY within %s", timeout)
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, fmt.Errorf("%w: the peer hung up without a CONNECTREPLY", ErrProtocol)
		}
		return nil, fmt.Errorf("%w: %v", ErrProtocol, err)
	}
	if rep.Type != wire.ConnectReply {
		return nil, fmt.Errorf("%w: expected CONNECTREPLY, got %q", ErrProtocol, rep.Type)
	}
	switch rep.Status {
	case wire.Accepted:
		_ = conn.SetDeadline(time.Time{})
		return newChat(conn, dec.Reader()), nil
	case wire.Refused:
		return nil, &RefusedError{Reason: rep.Reason}
	}
	return nil, fmt.Errorf("%w: CONNECTREPLY status %q", ErrProtocol, rep.Status)
}

// Incoming is a CONNECTREQ read by the callee.
type Incoming struct {
	Initiator string // normalised user ID
	conn      net.Conn
	dec       *wire.Decoder
}

// ReadRequest reads the CONNECTREQ on a freshly accepted conn, waiting at
// most timeout (a peer that connects and sends nothing is dropped). On a
// malformed request it answers REFUSED itself and returns the error.
func ReadRequest(conn net.Conn, timeout time.Duration) (*Incoming, error) {
	_ = conn.SetDeadline(time.Now().Add(timeout))
	dec := wire.NewDecoder(conn)
	req, err := dec.Decode()
	if err != nil {
		var ne net.Error
		switch {
		case errors.As(err, &ne) && ne.Timeout():
			return nil, fmt.Errorf("no CONNECTREQ within %s", timeout)
		case errors.Is(err, io.EOF):
			return nil, errors.New("the peer hung up before its CONNECTREQ")
		}
		_ = refuse(conn, "malformed request")
		return nil, fmt.Errorf("%w: %v", ErrProtocol, err)
	}
	if req.Type != wire.ConnectReq {
		_ = refuse(conn, "expected CONNECTREQ")
		return nil, fmt.Errorf("%w: expected CONNECTREQ, got %q", ErrProtocol, req.Type)
	}
	id, err := wire.NormalizeUserID(req.Initiator)
	if err != nil {
		_ = refuse(conn, "bad initiator")
		return nil, fmt.Errorf("%w: CONNECTREQ initiator: %v", ErrProtocol, err)
	}
	return &Incoming{Initiator: id, conn: conn, dec: dec}, nil
}

// Refuse answers REFUSED with reason.
func (in *Incoming) Refuse(reason string) error { return refuse(in.conn, reason) }

func refuse(conn net.Conn, reason string) error {
	_ = conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	return wire.Write(conn, wire.Message{Type: wire.ConnectReply, Status: wire.Refused, Reason: reason})
}

// Accept answers ACCEPTED and starts the chat phase.
func (in *Incoming) Accept() (*Chat, error) {
	// A caller that gave up (CTRL-C) while we verified it has closed its
	// side: no chat for a connection nobody is at.
	if hungUp(in.conn) {
		return nil, errors.New("the caller hung up before the answer")
	}
	// ReadRequest's deadline bounds this write too: a new, earlier one
	// would wake Go's network poller on the callee's critical path.
	if err := wire.Write(in.conn, wire.Message{Type: wire.ConnectReply, Status: wire.Accepted}); err != nil {
		return nil, fmt.Errorf("sending CONNECTREPLY: %w", err)
	}
	_ = in.conn.SetDeadline(time.Time{})
	return newChat(in.conn, in.dec.Reader()), nil
}

// ReadChunk is the buffer Receive reads the peer into.
const ReadChunk = 256 << 10

// chunks keeps Receive's buffers from one chat to the next: a new chat
// then allocates (and the collector clears) nothing on the way in.
var chunks = sync.Pool{New: func() any { b := make([]byte, ReadChunk); return &b }}

// Chat is the chat phase of one peer connection.
type Chat struct {
	conn      net.Conn
	r         io.Reader
	wmu       sync.Mutex
	closeOnce sync.Once
	live      *Liveness
}

// SetLiveness attaches the connection's Liveness (from Tune).
func (c *Chat) SetLiveness(l *Liveness) { c.live = l }

// Silent is Liveness.Silent of the connection, 0 without one.
func (c *Chat) Silent() time.Duration { return c.live.Silent() }

func newChat(conn net.Conn, r io.Reader) *Chat {
	// A secure peer is a pi2pid, which ends with close_notify: an end
	// without it is a cut (transport.Conn.StrictEnd).
	if s, ok := conn.(interface{ StrictEnd() }); ok {
		s.StrictEnd()
	}
	return &Chat{conn: conn, r: r}
}

// Send writes p to the peer. It blocks while the peer reads slower than
// we write (that is the backpressure that reaches the sender's pi2pictl)
// and has no deadline of its own: a peer that is alive but slow keeps the
// chat, and a peer that vanished is noticed by the socket options of Tune.
func (c *Chat) Send(p []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_, err := c.conn.Write(p)
	return err
}

// Receive hands what the peer sends to deliver, as it arrives, until the
// peer ends the stream (nil) or the connection fails. deliver may block:
// that is the backpressure that keeps a flood from filling memory; p is
// valid only until deliver returns.
//
// In secure mode the text of many TLS records is handed over in one piece
// (up to ReadChunk bytes): Receive gathers what TLS gives it and delivers
// it when the connection is about to wait for the peer (the transport's
// OnReadWait) or the buffer is full. Nothing waits in the buffer while
// Receive waits for the peer, so a line is delivered as soon as it
// arrives; a file costs one delivery per 64 KiB or more, not one per
// 16 KiB record.
func (c *Chat) Receive(deliver func(p []byte) error) error {
	bp := chunks.Get().(*[]byte)
	defer chunks.Put(bp)
	buf := *bp
	var start, end int // buf[start:end] is read, not yet delivered
	var derr error
	flush := func() error {
		if derr == nil && start < end {
			derr = deliver(buf[start:end])
		}
		start = end
		return derr
	}
	gathers := false
	if w, ok := c.conn.(interface{ OnReadWait(func() error) bool }); ok && w.OnReadWait(flush) {
		gathers = true
		defer w.OnReadWait(nil)
	}
	for {
		if len(buf)-end < minRoom {
			if err := flush(); err != nil {
				return err
			}
			start, end = 0, 0
		}
		n, err := c.r.Read(buf[end:])
		end += n
		if derr != nil {
			return derr // the hook's delivery failed
		}
		if !gathers || err != nil {
			if ferr := flush(); ferr != nil {
				return ferr
			}
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
}

// minRoom is the least room Receive reads into: one full TLS record.
const minRoom = 16 << 10

// End ends the chat politely: it closes our sending side, so the peer reads
// end-of-stream, and lets Receive finish when the peer closes its side.
func (c *Chat) End() {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if cw, ok := c.conn.(interface{ CloseWrite() error }); ok {
		if cw.CloseWrite() == nil {
			return
		}
	}
	c.Close()
}

// TryEnd is End unless a Send is under way (a peer reading slowly holds
// it); it reports whether our side was closed.
func (c *Chat) TryEnd() bool {
	if !c.wmu.TryLock() {
		return false
	}
	defer c.wmu.Unlock()
	if cw, ok := c.conn.(interface{ CloseWrite() error }); ok && cw.CloseWrite() == nil {
		return true
	}
	c.Close()
	return true
}

// Unsettled reports whether text may still be on its way in either
// direction: a Send is under way (a peer that does not read holds it), or
// the socket holds bytes the peer has not acknowledged or bytes from the
// peer not read yet. The socket is looked at only with a Liveness
// (SetLiveness).
func (c *Chat) Unsettled() bool {
	if !c.wmu.TryLock() {
		return true
	}
	c.wmu.Unlock()
	return c.live.queued()
}

// Close drops the connection at once.
func (c *Chat) Close() {
	c.closeOnce.Do(func() { _ = c.conn.Close() })
}

// SafetyCode returns the safety code of the chat's connection
// (transport.Conn.SafetyCode, bound to its TLS session), "" in plain mode.
func (c *Chat) SafetyCode() string {
	if sc, ok := c.conn.(interface{ SafetyCode() (string, error) }); ok {
		if s, err := sc.SafetyCode(); err == nil {
			return s
		}
	}
	return ""
}

// RemoteAddr returns the peer's address.
func (c *Chat) RemoteAddr() net.Addr { return c.conn.RemoteAddr() }
