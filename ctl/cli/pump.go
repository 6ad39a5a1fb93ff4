package cli

import (
	"errors"
	"io"
	"os"
	"sync"
	"unicode/utf8"

	"github.com/pi2pi/pi2pi/internal/control"
	"golang.org/x/sys/unix"
)

// pumpChunk bounds one OpSend from a pipe. Even with every byte escaped as
// \u00XX (six bytes) the request stays under control.MaxLine.
const pumpChunk = 32 << 10

// pumpPoll is how long the pump waits for stdin before it looks whether
// it was told to stop, in ms.
const pumpPoll = 100

// pump sends stdin to the peer when stdin is not a terminal (pi2pictl chat
// or wait in a pipe), in its own goroutine so that the engine goes on
// showing what arrives while a slow peer holds a send up.
//
// What the pump has read from stdin is accepted: it is sent, and OpEnd
// goes after it. The pump reads only when stdin is readable and it has not
// been told to stop, so a byte is either read and sent before the end, or
// left in stdin. It does not read while a send waits: that is the
// backpressure, stdin stays unread while the peer is slow.
type pump struct {
	client *control.Client
	buf    []byte    // bytes read from stdin before the pump started
	r      io.Reader // stdin
	fd     int       // stdin's descriptor for poll, -1 when not a file

	// listenOnEmpty: a stdin that ends before giving a single byte does
	// not end the chat (pi2pictl wait < /dev/null only receives).
	listenOnEmpty bool

	stopOnce sync.Once
	stopC    chan struct{} // closed by stop
	eof      chan bool     // stdin ended; true when the pump only listens now
	failed   chan error    // a send failed (pi2pid went away)
}

func newPump(client *control.Client, r io.Reader, buffered []byte) *pump {
	p := &pump{client: client, r: r, fd: -1, buf: buffered,
		stopC: make(chan struct{}), eof: make(chan bool, 1), failed: make(chan error, 1)}
	if f, ok := r.(*os.File); ok {
		p.fd = int(f.Fd())
	}
	return p
}

// stop tells the pump to send OpEnd after what it has read.
func (p *pump) stop() { p.stopOnce.Do(func() { close(p.stopC) }) }

func (p *pump) stopped() bool {
	select {
	case <-p.stopC:
		return true
	default:
		return false
	}
}

// run sends stdin until it ends or stop is called, then sends OpEnd. With
// listenOnEmpty, a stdin that ends before giving a single byte
// (`pi2pictl wait < /dev/null`) does not end the chat: the pump waits for
// stop, and the chat only receives.
func (p *pump) run() {
	var carry []byte // an incomplete UTF-8 character held for the next read
	buf := make([]byte, pumpChunk)
	sent := len(p.buf) > 0
	if sent && !p.send(p.buf) {
		return
	}
	p.buf = nil
	read := p.read
	if p.fd < 0 {
		read = p.readerGoroutine()
	}
	for !p.stopped() {
		n := copy(buf, carry)
		m, ok, err := read(buf[n:])
		if !ok {
			continue
		}
		n += m
		cut := n
		if err == nil {
			cut = completeRunes(buf[:n])
		}
		if cut > 0 {
			sent = true
			if !p.send(buf[:cut]) {
				return
			}
		}
		carry = append(carry[:0], buf[cut:n]...)
		if err != nil {
			listen := !sent && p.listenOnEmpty
			p.eof <- listen
			if listen {
				<-p.stopC
			}
			break
		}
	}
	_ = p.client.Send(control.Request{Op: control.OpEnd})
}

func (p *pump) send(b []byte) bool {
	if err := p.client.Send(control.Request{Op: control.OpSend, Text: string(b)}); err != nil {
		p.failed <- err
		return false
	}
	return true
}

// read reads stdin once it is readable (or at its end); ok is false when
// it was not within pumpPoll, and nothing was read.
func (p *pump) read(b []byte) (n int, ok bool, err error) {
	fds := []unix.PollFd{{Fd: int32(p.fd), Events: unix.POLLIN}}
	k, perr := unix.Poll(fds, pumpPoll)
	if errors.Is(perr, unix.EINTR) || perr == nil && k == 0 {
		return 0, false, nil
	}
	// Readable, or a poll error that Read will explain.
	n, err = p.r.Read(b)
	return n, true, err
}

// readerGoroutine reads a stdin that is no file (tests) in a goroutine of
// its own, since such a Read cannot be waited for with poll; what it reads
// once the pump has stopped is dropped.
func (p *pump) readerGoroutine() func([]byte) (int, bool, error) {
	type res struct {
		b   []byte
		err error
	}
	ch := make(chan res)
	go func() {
		for {
			b := make([]byte, pumpChunk)
			n, err := p.r.Read(b)
			select {
			case ch <- res{b[:n], err}:
			case <-p.stopC:
				return
			}
			if err != nil {
				return
			}
		}
	}()
	var rest []byte
	var restErr error
	return func(b []byte) (int, bool, error) {
		if len(rest) == 0 && restErr == nil {
			select {
			case r := <-ch:
				rest, restErr = r.b, r.err
			case <-p.stopC:
				return 0, false, nil
			}
		}
		n := copy(b, rest)
		rest = rest[n:]
		if len(rest) == 0 {
			err := restErr
			restErr = nil
			return n, true, err
		}
		return n, true, nil
	}
}

// completeRunes returns the length of p without a trailing incomplete
// UTF-8 character (invalid bytes pass: JSON carries them as U+FFFD).
func completeRunes(p []byte) int {
	for i := len(p) - 1; i >= 0 && i >= len(p)-3; i-- {
		if utf8.RuneStart(p[i]) {
			if !utf8.FullRune(p[i:]) {
				return i
			}
			break
		}
	}
	return len(p)
}
