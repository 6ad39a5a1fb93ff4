// Package logfile is an append-only log file of bounded size, for the
// Windows service, whose stderr goes nowhere. When a write would take the
// file past its limit, the file becomes NAME.1 (replacing the one before)
// and a new NAME is started, so at most about twice the limit is kept.
package logfile

import (
	"os"
	"sync"
)

// File is a size-bounded log file; it is safe for concurrent use.
type File struct {
	mu   sync.Mutex
	path string
	max  int64
	f    *os.File
	size int64
}

// Open opens path for appending (0600, created if missing); max is the size
// in bytes at which it is rotated.
func Open(path string, max int64) (*File, error) {
	f, err := open(path)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	return &File{path: path, max: max, f: f, size: fi.Size()}, nil
}

func open(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
}

// Path is the name of the current file.
func (l *File) Path() string { return l.path }

// Write appends p, rotating first when p would not fit.
func (l *File) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return 0, os.ErrClosed
	}
	if l.size > 0 && l.size+int64(len(p)) > l.max {
		l.rotate()
		if l.f == nil {
			return 0, os.ErrClosed
		}
	}
	n, err := l.f.Write(p)
	l.size += int64(n)
	return n, err
}

// rotate moves the file to NAME.1 and starts a new one. When the rename
// fails (on Windows another program may hold the file open) it goes on
// appending and tries again after another max bytes rather than lose lines.
// When the file cannot be opened again, l.f is left nil.
func (l *File) rotate() {
	_ = l.f.Close()
	_ = os.Rename(l.path, l.path+".1")
	l.size = 0
	f, err := open(l.path)
	if err != nil {
		l.f = nil
		return
	}
	l.f = f
}

// Close closes the file; later writes fail with os.ErrClosed.
func (l *File) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}
