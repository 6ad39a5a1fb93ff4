package controlsock

import (
	"bufio"
	"log/slog"
	"net"
	"time"

	"github.com/pi2pi/pi2pi/internal/control"
)

// A chat's text does not cross the control connection: it has a data
// stream of its own, a second connection to the socket whose one request
// is {"op":"stream","token":...} (no hello: the token, from the owner's
// EventChatStart, proves what the hello would). After the result line the
// connection carries the chat's raw bytes both ways (docs/protocol.md).

// StreamHandler is a Handler that takes chats' data streams.
type StreamHandler interface {
	// Stream checks the token of a data stream opened by a client of uid
	// (-1 when unknown). On success it returns run, which the server calls
	// once the OK result is written and which owns the stream until it
	// returns; then the connection is closed. A refusal is an error with
	// a code, as for Handle.
	Stream(token string, uid int) (run func(*Stream), err error)
}

// Stream is pi2pid's end of a chat's data stream.
type Stream struct {
	nc net.Conn
	r  *bufio.Reader // bytes that came behind the request line, then nc
}

// Read reads what the owner wrote.
func (s *Stream) Read(p []byte) (int, error) {
	if s.r != nil {
		if s.r.Buffered() > 0 {
			return s.r.Read(p)
		}
		s.r = nil // drained: read the socket directly from now on
	}
	return s.nc.Read(p)
}

// Write writes what the peer sent to the owner. It blocks while the owner
// reads slower: that holds the peer back (TCP backpressure).
func (s *Stream) Write(p []byte) (int, error) { return s.nc.Write(p) }

// CloseWrite tells the owner that the peer's side has ended, after what
// was written.
func (s *Stream) CloseWrite() error {
	if cw, ok := s.nc.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return s.nc.Close()
}

// Close drops the stream; a Read or Write under way returns.
func (s *Stream) Close() error { return s.nc.Close() }

// serveStream answers a stream request (the connection's first line) and
// hands the connection to the handler's run.
// who names the client (uid, pid) for the log.
func (s *Server) serveStream(c *Conn, r *bufio.Reader, req control.Request, log *slog.Logger, who []any) {
	defer c.Close()
	_ = c.nc.SetDeadline(time.Now().Add(5 * time.Second)) // for the result
	reply := func(rep control.Reply) bool {
		rep.Type, rep.ID = control.TypeResult, req.ID
		rep.OK = rep.Error == "" && rep.Code == ""
		_, err := c.nc.Write(append(control.AppendReply(nil, rep), '\n'))
		return err == nil
	}
	sh, ok := s.Handler.(StreamHandler)
	if !ok {
		reply(control.Reply{Code: control.CodeUsage, Error: "this pi2pid takes no data streams"})
		return
	}
	run, err := sh.Stream(req.Token, c.UID)
	if err != nil {
		reply(control.Refuse(err))
		log.Warn("data stream refused", append(who, "err", err)...)
		return
	}
	// The token is used up either way: a client that left before the
	// result is a stream that ends at once, which run sees as such.
	reply(control.Reply{})
	_ = c.nc.SetDeadline(time.Time{})
	log.Info("data stream attached", who...)
	if uc, ok := c.nc.(*net.UnixConn); ok {
		_ = uc.SetWriteBuffer(control.StreamSocketBuffer)
	}
	run(&Stream{nc: c.nc, r: r})
}
