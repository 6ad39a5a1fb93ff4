package controlsock

import (
	"net"
	"sync/atomic"
)

// IdleWorkers is how many goroutines that served a connection wait for
// the next one instead of ending. Each chat opens a connection for its
// data stream on the set-up's critical path; a new goroutine starts with a
// small stack and grows it, copying, while it reads and decodes the
// request, and a goroutine that served a connection before has the stack
// that takes (as backend.IdlePeerWorkers on the peer port).
const IdleWorkers = 2

// workers serves the connections of one Serve.
type workers struct {
	s    *Server
	work chan net.Conn // unbuffered: only a waiting worker takes one
	done chan struct{} // closed when Serve returns
	idle atomic.Int32
}

func newWorkers(s *Server) *workers {
	return &workers{s: s, work: make(chan net.Conn), done: make(chan struct{})}
}

// handOff gives conn to a waiting worker, if one waits.
func (w *workers) handOff(conn net.Conn) bool {
	select {
	case w.work <- conn:
		return true
	default:
		return false
	}
}

// run serves conn, then waits for more while fewer than IdleWorkers wait,
// until Serve returns or the server closes.
func (w *workers) run(conn net.Conn) {
	closing := w.s.closingChan()
	for {
		w.s.ServeConn(conn)
		if w.idle.Add(1) > IdleWorkers {
			w.idle.Add(-1)
			return
		}
		select {
		case conn = <-w.work:
			w.idle.Add(-1)
		case <-w.done:
			return
		case <-closing:
			return
		}
	}
}

// closingChan returns a channel closed by Close.
func (s *Server) closingChan() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing == nil {
		s.closing = make(chan struct{})
		if s.closed {
			close(s.closing)
		}
	}
	return s.closing
}
