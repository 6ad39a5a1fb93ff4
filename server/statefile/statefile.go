// Package statefile keeps one small state file of pi2pi-server up to date on
// disk with group commits: many callers that each need "my change is on disk
// before I answer" share one atomic write, so a login flood costs a handful
// of fsyncs rather than one per login. It also reads such files back: text,
// one record a line, fields separated by white space, '#' comments.
package statefile

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pi2pi/pi2pi/internal/transport"
)

// Writer writes the bytes returned by Snapshot to Path, atomically.
// A nil *Writer stands for state kept in memory only: its methods do
// nothing and return nil.
type Writer struct {
	path     string
	snapshot func() []byte

	reqs chan chan error
	// dirty is set by MarkDirty and read at each tick: a flag rather than
	// a channel, so that marking (once per lookup) never wakes the writer.
	dirty atomic.Bool
	stop  chan struct{}
	done  chan struct{}
	once  sync.Once
}

// New starts a Writer for path. snapshot is called from the writer's own
// goroutine and must return the complete file content; it takes whatever
// lock protects the state it encodes. Changes marked with MarkDirty are
// written within interval.
func New(path string, interval time.Duration, snapshot func() []byte) *Writer {
	w := &Writer{
		path:     path,
		snapshot: snapshot,
		reqs:     make(chan chan error, 64),
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
	}
	go w.loop(interval)
	return w
}

// Save returns once a write that started after the call has completed, so
// every change made before Save is on disk when it returns nil.
func (w *Writer) Save() error {
	if w == nil {
		return nil
	}
	ch := make(chan error, 1)
	select {
	case w.reqs <- ch:
	case <-w.done:
		return os.ErrClosed
	}
	select {
	case err := <-ch:
		return err
	case <-w.done:
		return os.ErrClosed
	}
}

// MarkDirty asks for a write within the interval given to New, without
// waiting for it. Use it for changes that may be lost in a crash, such as
// the time of a user's last request.
func (w *Writer) MarkDirty() {
	if w != nil && !w.dirty.Load() {
		w.dirty.Store(true)
	}
}

// Close writes pending changes and stops the writer.
func (w *Writer) Close() error {
	if w == nil {
		return nil
	}
	var err error
	w.once.Do(func() {
		close(w.stop)
		<-w.done
		err = w.write()
	})
	return err
}

func (w *Writer) write() error {
	return transport.WriteFileAtomic(w.path, w.snapshot(), 0o600)
}

func (w *Writer) loop(interval time.Duration) {
	defer close(w.done)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-w.stop:
			return
		case <-tick.C:
			if w.dirty.Swap(false) {
				_ = w.write()
			}
		case ch := <-w.reqs:
			// Gather everyone already waiting: one write serves them all,
			// because the snapshot is taken after their changes.
			waiting := []chan error{ch}
			for more := true; more; {
				select {
				case c := <-w.reqs:
					waiting = append(waiting, c)
				default:
					more = false
				}
			}
			w.dirty.Store(false)
			err := w.write()
			for _, c := range waiting {
				c <- err
			}
		}
	}
}

// Read returns the content of the state file at path; a missing file is
// empty.
func Read(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	return data, err
}

// Records calls record with the white-space separated fields of each line
// of data, skipping blank lines and '#' comments. Every record has exactly
// n fields; n <= 0 leaves the count to record. Errors, record's included,
// name the line: "line 3: bad time".
func Records(data []byte, n int, record func(fields []string) error) error {
	sc := bufio.NewScanner(bytes.NewReader(data))
	line := 0
	for sc.Scan() {
		line++
		f := strings.Fields(sc.Text())
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		if n > 0 && len(f) != n {
			return fmt.Errorf("line %d: want %d fields", line, n)
		}
		if err := record(f); err != nil {
			return fmt.Errorf("line %d: %w", line, err)
		}
	}
	return sc.Err()
}
