// Package controlsock is the daemon's side of the internal/control protocol:
// it accepts pi2pictl connections on the Unix socket, checks the hello and
// the version, decodes requests, hands them to a Handler and writes results
// and events back in order.
//
// Every connection has its own writer. Events and results never block the
// daemon: a client that stops reading altogether is dropped. Chat text
// does not cross these connections: a chat's data stream is a connection
// of its own (stream.go), whose socket gives the backpressure.
package controlsock

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"sync"
	"time"

	"github.com/pi2pi/pi2pi/internal/control"
	"github.com/pi2pi/pi2pi/internal/transport"
	"golang.org/x/sys/unix"
)

// Handler is the daemon behind the socket.
type Handler interface {
	// Connected is called once the hello exchange succeeded.
	Connected(c *Conn)
	// Handle performs one request and returns its result, or why it was
	// refused (an error with a code, see control.Error; the server puts
	// the code, whom it is about and its detail on the wire). The server
	// sets Type and ID. It runs on the connection's reader, so a long
	// request holds up later requests of the same connection only.
	Handle(c *Conn, req control.Request) (control.Reply, error)
	// Disconnected is called once when the connection has ended.
	Disconnected(c *Conn)
}

// readBuffer is the read buffer of a connection. Requests are short lines
// (a longer one, up to control.MaxLine, is put together in a scratch
// buffer), and a data stream reads past it once it is drained. Each chat
// opens a connection for its data stream on the set-up's critical path,
// where allocating (and clearing) 64 KiB, as before, took about 50 µs.
const readBuffer = 4 << 10

// Server serves the control protocol.
type Server struct {
	Handler Handler
	Daemon  string // build string sent in the hello
	Log     *slog.Logger
	// HelloTimeout bounds the wait for the client's hello (10s when zero).
	HelloTimeout time.Duration

	mu      sync.Mutex
	conns   map[*Conn]struct{}
	nextID  int
	closed  bool
	closing chan struct{} // closed by Close (closingChan)
	wg      sync.WaitGroup
}

// Serve accepts connections on l until l is closed.
// Each connection is served by a goroutine kept from an earlier one when
// one waits (workers.go).
func (s *Server) Serve(l net.Listener) error {
	w := newWorkers(s)
	defer close(w.done)
	for {
		conn, err := transport.Accept(l, s.log())
		if err != nil {
			return err
		}
		if w.handOff(conn) {
			continue
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			conn.Close()
			return net.ErrClosed
		}
		s.wg.Add(1)
		s.mu.Unlock()
		go func() {
			defer s.wg.Done()
			w.run(conn)
		}()
	}
}

// Close drops every connection and waits for their goroutines.
func (s *Server) Close() {
	s.mu.Lock()
	if s.closing != nil && !s.closed {
		close(s.closing)
	}
	s.closed = true
	conns := make([]*Conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.Close()
	}
	s.wg.Wait()
}

func (s *Server) log() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.Default()
}

// ServeConn runs one connection to its end.
func (s *Server) ServeConn(nc net.Conn) {
	s.mu.Lock()
	if s.closed {
		// Accepted as Close began: Close will not see it.
		s.mu.Unlock()
		nc.Close()
		return
	}
	s.nextID++
	c := newConn(s.nextID, nc)
	if s.conns == nil {
		s.conns = map[*Conn]struct{}{}
	}
	s.conns[c] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
	}()
	log := s.log().With("conn", c.id)
	// Who connected is logged once the first line tells what for: a
	// data stream gets one line when it is attached, not two, on the
	// chat set-up's critical path (each line is a write that wakes the
	// journal).
	var who []any
	if uid, pid, ok := peerCred(nc); ok {
		c.UID = uid
		who = []any{"uid", uid, "pid", pid}
	}
	r := bufio.NewReaderSize(nc, readBuffer)
	var scratch []byte // for lines longer than r's buffer
	ht := s.HelloTimeout
	if ht == 0 {
		ht = 10 * time.Second
	}
	_ = nc.SetReadDeadline(time.Now().Add(ht))
	line, err := control.ReadLine(r, &scratch)
	if err != nil {
		log.Info("control client left before its hello", append(who, "err", err)...)
		c.Close()
		return
	}
	hello, err := DecodeRequest(line)
	if err == nil && hello.Op == control.OpStream {
		s.serveStream(c, r, hello, log, who)
		return
	}
	log.Info("control client connected", who...)
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		c.writeLoop()
	}()
	defer func() {
		c.Close()
		<-writerDone
	}()
	if err != nil || hello.Op != control.OpHello {
		c.result(control.Reply{ID: hello.ID, Code: control.CodeUsage,
			Error: "expected a hello first; is this client really pi2pictl?"})
		c.flushAndClose()
		log.Warn("control client sent no hello")
		return
	}
	c.push(control.Reply{Type: control.TypeHello, Version: control.Version, Daemon: s.Daemon})
	if hello.Version != control.Version {
		c.result(control.Reply{ID: hello.ID, Code: control.CodeVersion, Error: versionMessage(hello.Version)})
		c.flushAndClose()
		log.Warn("control client speaks another version", "client_version", hello.Version, "version", control.Version)
		return
	}
	_ = nc.SetReadDeadline(time.Time{})
	s.Handler.Connected(c)
	defer s.Handler.Disconnected(c)
	s.serveRequests(c, r, &scratch, log)
}

// serveRequests reads c's requests after the hello and answers each, until
// the client leaves.
func (s *Server) serveRequests(c *Conn, r *bufio.Reader, scratch *[]byte, log *slog.Logger) {
	// A chat request runs until the chat starts or fails: it is served
	// beside the loop, which goes on reading, so that the client can
	// cancel it (OpCancelChat) or leave. Once the client has left, Done
	// is closed before the chat request is waited for.
	var inflight sync.WaitGroup
	defer func() {
		c.Close()
		inflight.Wait()
	}()
	serve := func(req control.Request) {
		rep, err := s.Handler.Handle(c, req)
		if err != nil {
			rep = control.Refuse(err)
		}
		rep.ID = req.ID
		c.result(rep)
	}
	for {
		line, err := control.ReadLine(r, scratch)
		if err != nil {
			if errors.Is(err, control.ErrLineTooLong) {
				c.result(control.Reply{Code: control.CodeUsage, Error: fmt.Sprintf("request line over %d bytes", control.MaxLine)})
				c.flushAndClose()
			}
			log.Info("control client disconnected")
			return
		}
		req, err := DecodeRequest(line)
		if err != nil {
			c.result(control.Reply{ID: req.ID, Code: control.CodeUsage, Error: err.Error()})
			continue
		}
		if req.Op == control.OpHello {
			c.result(control.Reply{ID: req.ID, Code: control.CodeUsage, Error: "hello was already exchanged"})
			continue
		}
		if req.Op == control.OpStream {
			c.result(control.Reply{ID: req.ID, Code: control.CodeUsage,
				Error: "stream is the one request of a connection of its own, without a hello"})
			continue
		}
		if req.Op == control.OpChat {
			inflight.Add(1)
			go func() {
				defer inflight.Done()
				serve(req)
			}()
			continue
		}
		serve(req)
	}
}

func versionMessage(client int) string {
	if client > control.Version {
		return fmt.Sprintf("this pi2pid speaks control protocol v%d but the client speaks v%d: upgrade pi2pid (and restart it)", control.Version, client)
	}
	return fmt.Sprintf("this pi2pid speaks control protocol v%d but the client speaks v%d: upgrade pi2pictl", control.Version, client)
}

// DecodeRequest parses one request line. On error the returned Request
// still carries the ID when it could be read, so the refusal can name it.
func DecodeRequest(line []byte) (control.Request, error) {
	req, err := control.ParseRequest(line)
	if err != nil {
		var id struct {
			ID int `json:"id"`
		}
		_ = json.Unmarshal(line, &id)
		return control.Request{ID: id.ID}, fmt.Errorf("malformed request (not a JSON request object): %v", err)
	}
	if req.Op == "" {
		return req, errors.New("request has no op")
	}
	if !slices.Contains(control.Ops, req.Op) {
		return req, fmt.Errorf("unknown op %q: this pi2pid knows %v", req.Op, control.Ops)
	}
	return req, nil
}

// peerCred returns the uid and pid of a Unix socket's peer.
func peerCred(nc net.Conn) (uid, pid int, ok bool) {
	uc, isUnix := nc.(*net.UnixConn)
	if !isUnix {
		return 0, 0, false
	}
	rc, err := uc.SyscallConn()
	if err != nil {
		return 0, 0, false
	}
	var cred *unix.Ucred
	var cerr error
	if err := rc.Control(func(fd uintptr) {
		cred, cerr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil || cerr != nil {
		return 0, 0, false
	}
	return int(cred.Uid), int(cred.Pid), true
}
