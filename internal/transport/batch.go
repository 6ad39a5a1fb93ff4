package transport

import (
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
type batchConn struct {
	net.Conn
	mu  sync.Mutex // TLS may write an alert from the reading side meanwhile
	on  bool
	buf []byte
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
