package tty

import (
	"errors"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// ErrStopped is what a StoppableReader's Read returns once Stop was called.
var ErrStopped = errors.New("tty: reading stopped")

// StoppableReader reads a terminal (or any pollable file) and can be told
// to give up while it waits for input: a plain Read on a terminal blocks
// until a key is pressed, and that key would then be taken from whoever
// reads the terminal next. It waits with poll(2) on the terminal and on a
// pipe of its own, never reading before input is there; Stop closes the
// pipe's writing end, which wakes a waiting Read at once: it returns
// ErrStopped and leaves any input unread for the next reader. While it
// waits nothing wakes it: no timer, no polling interval.
type StoppableReader struct {
	f       *os.File
	stopped atomic.Bool
	// stopR and stopW are the pipe Stop closes (stopW); -1 when the
	// pipe could not be made, and Read then looks at the flag every
	// fallbackPoll ms.
	stopR, stopW int
	closeW       sync.Once
}

// fallbackPoll is how often, in ms, a Read without a stop pipe looks at
// its stop flag.
const fallbackPoll = 50

// NewStoppableReader returns a StoppableReader of f.
func NewStoppableReader(f *os.File) *StoppableReader {
	r := &StoppableReader{f: f, stopR: -1, stopW: -1}
	var p [2]int
	if unix.Pipe2(p[:], unix.O_CLOEXEC) == nil {
		r.stopR, r.stopW = p[0], p[1]
		// The pipe's ends go when the reader does (a Read may still be
		// polling the reading end after Stop).
		runtime.AddCleanup(r, func(p [2]int) { unix.Close(p[0]); unix.Close(p[1]) }, p)
	}
	return r
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
		ready, err := r.poll(fd)
		if err != nil {
			return 0, err
		}
		if ready && !r.stopped.Load() {
			return r.f.Read(p)
		}
	}
}

// Stop makes Read return ErrStopped, at once, also a Read waiting for
// input. It may be called from any goroutine, any number of times.
func (r *StoppableReader) Stop() {
	r.stopped.Store(true)
	r.closeW.Do(func() {
		if r.stopW >= 0 {
			unix.Close(r.stopW) // wakes a Read polling the reading end
		}
	})
}

// poll reports whether fd has input (or a hang-up or error a Read will
// report); false when the stop pipe woke it.
func (r *StoppableReader) poll(fd int) (bool, error) {
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	timeout := fallbackPoll
	if r.stopR >= 0 {
		fds = append(fds, unix.PollFd{Fd: int32(r.stopR), Events: unix.POLLIN})
		timeout = -1
	}
	n, err := pollFds(fds, timeout)
	runtime.KeepAlive(r) // the pipe stays open while it is polled
	return n > 0 && fds[0].Revents != 0, err
}

// poll reports whether fd has input (or a hang-up or error a Read will
// report) within d.
func poll(fd int, d time.Duration) (bool, error) {
	n, err := pollFds([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, int(d/time.Millisecond))
	return n > 0, err
}

// pollFds is poll(2) of fds for timeout ms (-1: no limit), again when a
// signal interrupts it.
func pollFds(fds []unix.PollFd, timeout int) (int, error) {
	for {
		n, err := unix.Poll(fds, timeout)
		if err != unix.EINTR {
			return n, err
		}
	}
}
