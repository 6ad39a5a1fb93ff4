package tty

import (
	"errors"
	"os"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// ErrStopped is what a StoppableReader's Read returns once Stop was called.
var ErrStopped = errors.New("tty: reading stopped")

// stopPoll is how often a waiting StoppableReader looks at its stop flag.
const stopPoll = 50 * time.Millisecond

// StoppableReader reads a terminal (or any pollable file) and can be told
// to give up while it waits for input: a plain Read on a terminal blocks
// until a key is pressed, and that key would then be taken from whoever
// reads the terminal next. It waits with poll(2), never reading before
// input is there, and checks its stop flag between polls, so a Stop makes
// a waiting Read return ErrStopped within stopPoll and leaves any input
// unread for the next reader.
type StoppableReader struct {
	f       *os.File
	stopped atomic.Bool
}

// NewStoppableReader returns a StoppableReader of f.
func NewStoppableReader(f *os.File) *StoppableReader {
	return &StoppableReader{f: f}
}

// Read waits until f has input, then reads it; once Stop was called it
// returns 0, ErrStopped without reading.
func (r *StoppableReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	fd := int(r.f.Fd())
	if fd < 0 {
		return 0, os.ErrClosed // poll(2) would ignore the descriptor
	}
	for {
		if r.stopped.Load() {
			return 0, ErrStopped
		}
		ready, err := poll(fd, stopPoll)
		if err != nil {
			return 0, err
		}
		if ready && !r.stopped.Load() {
			return r.f.Read(p)
		}
	}
}

// Stop makes Read return ErrStopped, at once or, for a Read waiting for
// input, within a fraction of a second. It may be called from any
// goroutine, any number of times.
func (r *StoppableReader) Stop() {
	r.stopped.Store(true)
}

// poll reports whether fd has input (or a hang-up or error a Read will
// report) within d.
func poll(fd int, d time.Duration) (bool, error) {
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	for {
		n, err := unix.Poll(fds, int(d/time.Millisecond))
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return false, err
		}
		return n > 0, nil
	}
}
