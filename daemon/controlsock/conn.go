package controlsock

import (
	"errors"
	"net"
	"sync"
	"time"

	"github.com/pi2pi/pi2pi/internal/control"
)

// MaxBacklog is how many events and results may wait for a client before it
// counts as stuck and is dropped.
const MaxBacklog = 4096

// ErrGone is returned when the client has left.
var ErrGone = errors.New("control client disconnected")

// Conn is one control client.
type Conn struct {
	id   int
	nc   net.Conn
	UID  int // the client's uid from SO_PEERCRED, -1 when unknown
	done chan struct{}

	mu     sync.Mutex
	cond   *sync.Cond
	q      []control.Reply
	closed bool
	flush  bool // close once the queue is written
}

func newConn(id int, nc net.Conn) *Conn {
	c := &Conn{id: id, nc: nc, UID: -1, done: make(chan struct{})}
	c.cond = sync.NewCond(&c.mu)
	return c
}

// ID numbers connections for logs.
func (c *Conn) ID() int { return c.id }

// Done is closed when the connection has ended.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Event queues an event for the client without waiting.
func (c *Conn) Event(r control.Reply) {
	r.Type = control.TypeEvent
	c.push(r)
}

func (c *Conn) result(r control.Reply) {
	r.Type = control.TypeResult
	r.OK = r.Error == "" && r.Code == ""
	c.push(r)
}

func (c *Conn) push(r control.Reply) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	if len(c.q) >= MaxBacklog {
		// The client has stopped reading: drop it rather than grow.
		c.closeLocked()
		return
	}
	c.q = append(c.q, r)
	c.cond.Broadcast()
}

// Close ends the connection.
func (c *Conn) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closeLocked()
}

func (c *Conn) closeLocked() {
	if c.closed {
		return
	}
	c.closed = true
	_ = c.nc.Close()
	close(c.done)
	c.cond.Broadcast()
}

// flushAndClose closes the connection once what is queued has been written.
func (c *Conn) flushAndClose() {
	c.mu.Lock()
	c.flush = true
	c.cond.Broadcast()
	c.mu.Unlock()
	select {
	case <-c.done:
	case <-time.After(5 * time.Second):
		c.Close()
	}
}

// writeChunk is how much encoded output the writer gathers before one
// write to the socket; maxKeep bounds the buffer it keeps between batches.
const (
	writeChunk = 64 << 10
	maxKeep    = 256 << 10
)

func (c *Conn) writeLoop() {
	var batch []control.Reply
	var buf []byte
	for {
		c.mu.Lock()
		for len(c.q) == 0 && !c.closed && !c.flush {
			c.cond.Wait()
		}
		if c.closed || len(c.q) == 0 && c.flush {
			c.closeLocked()
			c.mu.Unlock()
			return
		}
		batch = append(batch[:0], c.q...)
		clear(c.q)
		c.q = c.q[:0]
		c.mu.Unlock()
		buf = buf[:0]
		for i, r := range batch {
			buf = control.AppendReply(buf, r)
			buf = append(buf, '\n')
			if len(buf) < writeChunk && i < len(batch)-1 {
				continue
			}
			if _, err := c.nc.Write(buf); err != nil {
				c.Close()
				return
			}
			buf = buf[:0]
		}
		clear(batch)
		if cap(buf) > maxKeep {
			buf = nil
		}
	}
}
