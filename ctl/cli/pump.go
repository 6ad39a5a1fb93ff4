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

	stopOnce sync.Once
	stopC    chan struct{} // closed by stop
	eof      chan bool     // stdin ended; true when nothing was read at all
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

// run sends stdin until it ends or stop is called, then sends OpEnd. A
// stdin that ends before giving a single byte (`< /dev/null`) does not end
// the chat: the pump waits for stop, and the chat only receives.
func (p *pump) run() {
	var carry []byte // an incomplete UTF-8 character held for the next read
	buf := make([]byte, pumpChunk)
	sent := len(p.buf) > 0
	if sent && !p.send(p.buf) {
		return
	}
	p.buf = nil
	for !p.stopped() {
		if !p.readable() {
			continue
		}
		n := copy(buf, carry)
		m, err := p.r.Read(buf[n:])
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
			p.eof <- !sent
			if !sent {
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

// readable waits up to pumpPoll for stdin to have something to read (or
// its end); a reader that is no file is always readable.
func (p *pump) readable() bool {
	if p.fd < 0 {
		return true
	}
	fds := []unix.PollFd{{Fd: int32(p.fd), Events: unix.POLLIN}}
	n, err := unix.Poll(fds, pumpPoll)
	if errors.Is(err, unix.EINTR) {
		return false
	}
	return err != nil || n > 0 // on a poll error let Read say what is wrong
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
