package transport

import (
	"io"
	"net"
	"sync"
)

// batchLimit is how many bytes of TLS records batchConn gathers before it
// writes them to TCP: about four full records.
const batchLimit = 64 << 10

// maxRecord is the most text one TLS record carries.
const maxRecord = 16 << 10

// batchConn sits between TLS and TCP. crypto/tls writes each record of at
// most 16 KiB with a write of its own, so a file sent at speed costs a
// system call, a TCP push and a wake-up of the receiving side per record.
// While a large Write is under way (Conn.Write turns batching on), batchConn
// gathers the records and writes them batchLimit bytes at a time, then what
// is left when the Write ends. The records, their order and their bytes
// are TLS's own; only the system calls are fewer (a quarter to a third less
// processor time for a bulk transfer over loopback, both ends together).
//
// On the reading side, while a reader has asked to hear of it
// (Conn.OnReadWait), batchConn reads TCP readBatch bytes at a time and
// calls the reader's hook before each read that may wait: the reader can
// gather the text of many records and pass it on in one piece, and still
// passes on everything it holds before it waits for the peer.
type batchConn struct {
	net.Conn
	mu  sync.Mutex // TLS may write an alert from the reading side meanwhile
	on  bool
	buf []byte

	// The reading side: only TLS's reader uses these, under its lock.
	wait       func() error // called before a read that may wait; nil: reads go straight through
	rbuf       []byte
	rpos, rend int  // rbuf[rpos:rend] is read from TCP, not yet by TLS
	tcpEOF     bool // TCP's end was read (the peer's FIN)
	strict     bool // Conn.StrictEnd
}

// readBatch is how many bytes batchConn reads from TCP at a time while a
// reader has a hook: four full records.
const readBatch = 64 << 10

// Read serves TLS from what was read ahead; with a hook set, it reads TCP
// readBatch bytes at a time and calls the hook first.
func (b *batchConn) Read(p []byte) (int, error) {
	if b.rpos == b.rend {
		if b.wait == nil {
			n, err := b.Conn.Read(p)
			b.tcpEOF = b.tcpEOF || err == io.EOF
			return n, err
		}
		if err := b.wait(); err != nil {
			return 0, err
		}
		if b.rbuf == nil {
			b.rbuf = make([]byte, readBatch)
		}
		n, err := b.Conn.Read(b.rbuf)
		b.tcpEOF = b.tcpEOF || err == io.EOF
		b.rpos, b.rend = 0, n
		if n == 0 {
			return 0, err
		}
	}
	n := copy(p, b.rbuf[b.rpos:b.rend])
	b.rpos += n
	return n, nil
}

func (b *batchConn) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.on {
		return b.Conn.Write(p)
	}
	if len(b.buf)+len(p) > batchLimit {
		if err := b.flushLocked(); err != nil {
			return 0, err
		}
	}
	if len(p) > batchLimit {
		return b.Conn.Write(p)
	}
	if b.buf == nil {
		b.buf = make([]byte, 0, batchLimit)
	}
	b.buf = append(b.buf, p...)
	return len(p), nil
}

// start gathers the writes to come.
func (b *batchConn) start() {
	b.mu.Lock()
	b.on = true
	b.mu.Unlock()
}

// stop writes what was gathered and lets writes through again.
func (b *batchConn) stop() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.on = false
	return b.flushLocked()
}

func (b *batchConn) flushLocked() error {
	if len(b.buf) == 0 {
		return nil
	}
	_, err := b.Conn.Write(b.buf)
	b.buf = b.buf[:0]
	return err
}

// StrictEnd makes Read report a bare end of a secure connection as
// io.ErrUnexpectedEOF (see Read); it is for a chat's connection, whose
// peer is a pi2pid. The directory's connections keep Go's reading: a
// server may close an idle one without close_notify. Only the
// connection's one reader may call it, between its reads.
func (c *Conn) StrictEnd() {
	if c.batch != nil {
		c.batch.strict = true
	}
}

// Read reads what the peer sent. After StrictEnd, in secure mode, the end
// of the stream is io.EOF only when the peer ended TLS with close_notify: Go's TLS also
// takes a bare TCP end between two records for io.EOF, but every pi2pi
// peer in secure mode sends close_notify at an ordinary end, so a bare end
// is a connection dropped or cut (a pi2pid that gave up and reset it, a
// reset whose error TCP reported to a write instead). It is
// io.ErrUnexpectedEOF then, and the chat ends as broken, not as an
// ordinary end with text missing. TLS reads no further after close_notify,
// so a TCP end read before means the peer sent none.
func (c *Conn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if err == io.EOF && c.batch != nil && c.batch.strict && c.batch.tcpEOF {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

// OnReadWait sets the hook that reading calls before each read that may
// wait for the peer (nil removes it), and reports whether the connection
// has such reads to report: in plain mode it has not, and each Read
// returns what one read of TCP gave. Only the connection's one reader may
// call it, between its reads.
func (c *Conn) OnReadWait(hook func() error) bool {
	if c.batch == nil {
		return false
	}
	c.batch.wait = hook
	return true
}

// Write writes p. In secure mode, the records of a write longer than one
// TLS record go to TCP a few at a time (batchConn).
func (c *Conn) Write(p []byte) (int, error) {
	if c.batch == nil || len(p) <= maxRecord {
		return c.Conn.Write(p)
	}
	c.batch.start()
	n, err := c.tls.Write(p)
	if ferr := c.batch.stop(); err == nil && ferr != nil {
		err = ferr
	}
	return n, err
}
