package netserve

import (
	"math"
	"net"
	"net/netip"
	"sync/atomic"
	"time"
)

// slot is the bookkeeping of one open connection.
type slot struct {
	src netip.Prefix // guard.Source of its address
	// waiting holds the time (UnixNano) since which the connection has been
	// waiting for its client: since it was accepted (TLS handshake and
	// first request included), or since its last reply. 0 while a request
	// is being answered.
	waiting atomic.Int64
}

func (sl *slot) busy() { sl.waiting.Store(0) }
func (sl *slot) wait() { sl.waiting.Store(time.Now().UnixNano()) }

// evictOne makes room for a new connection when every slot is taken: it
// closes the connection that has waited longest for its client, so that
// connections held open by clients that send a request now and then cannot
// keep newcomers out, and a newcomer is the last to go. It reports false
// when every connection is busy answering a request. Callers hold s.mu.
func (s *Server) evictOne() bool {
	var victim net.Conn
	var vs *slot
	oldest := int64(math.MaxInt64)
	for c, sl := range s.conns {
		if w := sl.waiting.Load(); w != 0 && w < oldest {
			victim, vs, oldest = c, sl, w
		}
	}
	if victim == nil {
		return false
	}
	s.forget(victim, vs)
	victim.Close()
	s.evicted++
	if time.Since(s.warned) > 10*time.Second {
		s.warned = time.Now()
		s.Log.Warn("all connection slots taken: closing the connections that waited longest for their clients to make room",
			"max_conns", s.Limits.MaxConns, "waited", time.Since(time.Unix(0, oldest)).Round(time.Millisecond).String())
	}
	return true
}

// forget drops c from the counts. Callers hold s.mu.
func (s *Server) forget(c net.Conn, sl *slot) {
	s.total--
	if s.perIP[sl.src]--; s.perIP[sl.src] <= 0 {
		delete(s.perIP, sl.src)
	}
	delete(s.conns, c)
}

// Evicted returns the number of connections closed to make room for new
// ones.
func (s *Server) Evicted() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.evicted
}
