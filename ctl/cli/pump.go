package cli

import (
	"errors"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"unicode/utf8"

	"github.com/pi2pi/pi2pi/internal/control"
	"golang.org/x/sys/unix"
)

// pumpPoll is how long the pump waits for stdin before it looks whether
// it was told to stop, in ms.
const pumpPoll = 100

// pump writes stdin to the chat's data stream when stdin is not a terminal
// (pi2pictl chat or wait in a pipe), in its own goroutine so that the
// engine goes on showing what arrives while a slow peer holds a write up.
//
// What the pump has read from stdin is accepted: it is written to the
// stream, and the stream's CloseWrite (our end) goes after it. The pump
// reads only when stdin is readable and it has not been told to stop, so a
// byte is either read and sent before the end, or left in stdin. It does
// not read while a write waits: that is the backpressure, stdin stays
// unread while the peer is slow.
type pump struct {
	s   *control.Stream
	buf []byte    // bytes read from stdin before the pump started
	r   io.Reader // stdin
	fd  int       // stdin's descriptor for poll, -1 when not a file
	// move: stdin is a pipe or a regular file, whose bytes go to the
	// stream without passing through pi2pictl (control.Stream.MoveFrom);
	// pipe tells which.
	move, pipe bool

	// listenOnEmpty: a stdin that ends before giving a single byte does
	// not end the chat (pi2pictl wait < /dev/null only receives).
	listenOnEmpty bool

	stopOnce sync.Once
	stopC    chan struct{} // closed by stop
	// takeReady (set before stopC closes): before its end the pump still
	// sends what stdin holds at that moment (see sendReady).
	takeReady bool
	// unsent is set when stdin had not ended when the pump stopped (the
	// peer's end, pi2pid's, CTRL-C, a failed write): the rest of the
	// input was not sent.
	unsent atomic.Bool
	eof    chan bool // stdin ended; true when the pump only listens now
	// readErr, set before eof is sent, is why reading stdin failed; nil
	// at its end.
	readErr error
	done    chan struct{} // closed once run has returned, unsent set
}

func newPump(s *control.Stream, r io.Reader, buffered []byte) *pump {
	p := &pump{s: s, r: r, fd: -1, buf: buffered,
		stopC: make(chan struct{}), eof: make(chan bool, 1), done: make(chan struct{})}
	if f, ok := r.(*os.File); ok {
		p.fd = int(f.Fd())
		// A pipe holds 64 KiB; a larger one lets a file through with
		// fewer reads and wake-ups (as far as the system allows, else
		// as it is).
		_, _ = unix.FcntlInt(uintptr(p.fd), unix.F_SETPIPE_SZ, control.StreamBuffer)
		var st unix.Stat_t
		if unix.Fstat(p.fd, &st) == nil {
			p.pipe = st.Mode&unix.S_IFMT == unix.S_IFIFO
			p.move = p.pipe || st.Mode&unix.S_IFMT == unix.S_IFREG
		}
	}
	return p
}

// stop tells the pump to end our side after what it has read.
func (p *pump) stop() { p.stopOnce.Do(func() { close(p.stopC) }) }

// stopAfterReady tells the pump to end our side after what it has read
// and what stdin already holds (sendReady): the peer has ended, or pi2pid
// ends the chat, and the text that was waiting in stdin still goes out.
func (p *pump) stopAfterReady() {
	p.stopOnce.Do(func() {
		p.takeReady = true
		close(p.stopC)
	})
}

func (p *pump) stopped() bool {
	select {
	case <-p.stopC:
		return true
	default:
		return false
	}
}

// run sends stdin until it ends or stop is called, then ends our side of
// the stream. With listenOnEmpty, a stdin that ends before giving a single
// byte (`pi2pictl wait < /dev/null`) does not end the chat: the pump waits
// for stop, and the chat only receives. A write that fails means the chat
// is over (pi2pid closed the stream); its chat-end says why.
func (p *pump) run() {
	ended := false // stdin reached its end (or failed)
	defer func() {
		_ = p.s.CloseWrite()
		if !ended && p.fd >= 0 && !p.inputEnded() {
			p.unsent.Store(true)
		}
		close(p.done)
	}()
	var buf []byte // for what goes through pi2pictl: no buffer for a move
	if !p.move {
		buf = make([]byte, control.StreamBuffer)
	}
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
		var n int
		var ok bool
		var err error
		if p.move {
			n, ok, err = p.moveOnce()
			if errors.Is(err, errStreamFailed) {
				return
			}
			if errors.Is(err, control.ErrCannotMove) {
				// A file the kernel cannot move from (/proc): read it.
				p.move, ok, err = false, false, nil
				buf = make([]byte, control.StreamBuffer)
			}
		} else {
			n, ok, err = read(buf)
			if ok && n > 0 && !p.send(buf[:n]) {
				return
			}
		}
		if !ok {
			continue
		}
		if n > 0 {
			sent = true
		}
		if err != nil {
			ended = true
			if !errors.Is(err, io.EOF) {
				p.readErr = err
			}
			listen := !sent && p.listenOnEmpty
			p.eof <- listen
			if listen {
				<-p.stopC
			}
			return
		}
	}
	if p.takeReady {
		if buf == nil {
			buf = make([]byte, control.StreamBuffer)
		}
		p.sendReady(buf)
	}
}

// sendReady sends what stdin holds now (at most len(buf) bytes: what a
// pipe holds, since newPump sized it so), without waiting for more. When
// both sides pipe a few lines whose end is there at once
// (`printf … | pi2pictl wait` and `printf … | pi2pictl chat bianca`), one
// side's end can reach the other before its pump has read anything; that
// text was given before the chat ended, and is sent. A stdin that keeps
// coming (`yes |`) cannot hold the end back: only what is there goes.
func (p *pump) sendReady(buf []byte) {
	if p.fd < 0 {
		return // no file: tests' readers, read in a goroutine
	}
	n, err := unix.IoctlGetInt(p.fd, unix.TIOCINQ) // FIONREAD: pipes and files
	if err != nil || n <= 0 {
		return
	}
	n = min(n, len(buf))
	got := 0
	for got < n {
		k, err := p.r.Read(buf[got:n])
		got += k
		if err != nil || k == 0 {
			break
		}
	}
	if got > 0 {
		p.send(buf[:got])
	}
}

// inputEnded reports whether stdin is at its end, without waiting: a file
// with nothing left after the offset, or a pipe whose writer has closed
// and that holds nothing. A pipe that is empty for now but still open
// (`cat big | pi2pictl chat`) has not ended: more may come.
func (p *pump) inputEnded() bool {
	left, err := unix.IoctlGetInt(p.fd, unix.TIOCINQ)
	if err == nil && left > 0 {
		return false
	}
	if f, ok := p.r.(*os.File); ok {
		if fi, serr := f.Stat(); serr == nil && fi.Mode().IsRegular() {
			return err == nil // nothing after the offset
		}
	}
	fds := []unix.PollFd{{Fd: int32(p.fd), Events: unix.POLLIN}}
	if n, err := unix.Poll(fds, 0); err != nil || n == 0 {
		return false // open and empty: more may come
	}
	return fds[0].Revents&unix.POLLHUP != 0 && fds[0].Revents&unix.POLLIN == 0
}

func (p *pump) send(b []byte) bool {
	_, err := p.s.Write(b)
	return err == nil
}

// read reads stdin once it is readable (or at its end); ok is false when
// it was not within pumpPoll, and nothing was read.
func (p *pump) read(b []byte) (n int, ok bool, err error) {
	if !p.readable() {
		return 0, false, nil
	}
	n, err = p.r.Read(b)
	return n, true, err
}

// readable waits up to pumpPoll for stdin to be readable (or at its end):
// true also for a poll error, which the read or move that follows explains.
func (p *pump) readable() bool {
	fds := []unix.PollFd{{Fd: int32(p.fd), Events: unix.POLLIN}}
	k, err := unix.Poll(fds, pumpPoll)
	return !errors.Is(err, unix.EINTR) && (err != nil || k > 0)
}

// errStreamFailed: a move into the stream failed, so the chat is over
// (pi2pid closed the stream), or stdin failed; either way our side ends.
var errStreamFailed = errors.New("moving stdin to the stream failed")

// moveOnce moves what stdin holds to the stream once stdin is readable,
// without passing it through pi2pictl: n bytes moved (they are sent, as
// with send), ok false when stdin was not readable within pumpPoll,
// io.EOF at stdin's end, errStreamFailed when the move failed,
// control.ErrCannotMove (ok false) when the kernel cannot move from stdin.
func (p *pump) moveOnce() (n int, ok bool, err error) {
	if !p.readable() {
		return 0, false, nil
	}
	n, err = p.s.MoveFrom(p.fd, p.pipe, control.StreamBuffer)
	switch {
	case errors.Is(err, control.ErrInputEmpty):
		return 0, false, nil
	case errors.Is(err, control.ErrCannotMove):
		return 0, false, err
	case errors.As(err, new(*control.InputError)):
		if f, ok := p.r.(*os.File); ok { // worded as a read says it: "read /dev/stdin: ..."
			err = &os.PathError{Op: "read", Path: f.Name(), Err: errors.Unwrap(err)}
		}
		return 0, true, err
	case err != nil:
		return 0, true, errStreamFailed
	case n == 0:
		return 0, true, io.EOF
	}
	return n, true, nil
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
			b := make([]byte, control.StreamBuffer)
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
// UTF-8 character (invalid bytes pass, and are shown as U+FFFD).
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
