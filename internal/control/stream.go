package control

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"golang.org/x/sys/unix"
)

// StreamBuffer is the size of the buffers that copy a chat's data stream:
// pi2pid's two copy loops and pi2pictl's reader hold at most one each.
const StreamBuffer = 256 << 10

// StreamSocketBuffer is the send buffer pi2pid asks for on its end of a
// data stream, which holds what the peer sent until pi2pictl reads it.
// The default (net.core.wmem_default, 208 KiB on Debian) is less than one
// of pi2pid's chunks of StreamBuffer bytes, so a file went to pi2pictl a
// part of a chunk at a time, each with a wake-up of both programs (about a
// tenth more processor time per MiB; BenchmarkChatFile). The kernel
// doubles it and caps it at twice net.core.wmem_max: 2 MiB at most, 416 KiB
// with Debian's default.
const StreamSocketBuffer = 1 << 20

// Stream is the client's end of a chat's data stream: raw chat bytes, both
// ways. What is written goes to the peer; Read returns what the peer sent
// and io.EOF once the peer's side has ended (pi2pid has written all of it).
// CloseWrite ends our side: pi2pid sends on what was written before it,
// then half-closes towards the peer.
type Stream struct {
	conn *net.UnixConn
	r    *bufio.Reader // holds what came behind the result line
}

// DialStream opens the data stream of the chat announced with token
// (EventChatStart.Token) on the control socket at path.
func DialStream(ctx context.Context, path, token string) (*Stream, error) {
	nc, err := dialSocket(ctx, path)
	if err != nil {
		return nil, err
	}
	s, err := OpenStream(ctx, nc, token)
	if err != nil {
		nc.Close()
		return nil, err
	}
	return s, nil
}

// OpenStream sends the stream request on a fresh connection to the
// control socket and reads its result. A refusal is an *Error.
func OpenStream(ctx context.Context, nc net.Conn, token string) (*Stream, error) {
	uc, ok := nc.(*net.UnixConn)
	if !ok {
		return nil, fmt.Errorf("a data stream needs a Unix socket, not %T", nc)
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = nc.SetDeadline(dl)
	} else {
		_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
	}
	req := append(AppendRequest(nil, Request{Op: OpStream, Token: token}), '\n')
	if _, err := nc.Write(req); err != nil {
		return nil, fmt.Errorf("opening the chat's data stream: %w", err)
	}
	r := bufio.NewReaderSize(nc, 4096)
	var scratch []byte
	line, err := ReadLine(r, &scratch)
	if err != nil {
		return nil, fmt.Errorf("opening the chat's data stream: %w", err)
	}
	rep, err := ParseReply(line)
	if err != nil || rep.Type != TypeResult {
		return nil, fmt.Errorf("opening the chat's data stream: pi2pid sent %q", line)
	}
	if !rep.OK {
		if e := ErrorOf(rep); e != nil {
			return nil, e
		}
		return nil, &Error{Code: CodeInternal, Detail: "pi2pid refused the data stream without a code"}
	}
	_ = nc.SetDeadline(time.Time{})
	return &Stream{conn: uc, r: r}, nil
}

// Read reads what the peer sent. Reads of StreamBuffer bytes or more go
// straight to the socket once the little that followed the result line is
// read.
func (s *Stream) Read(p []byte) (int, error) { return s.r.Read(p) }

// ReadReady reads what has arrived already, without waiting: 0 when
// nothing has (or at the end, which the next Read reports).
func (s *Stream) ReadReady(p []byte) int {
	if s.r.Buffered() > 0 {
		n, _ := s.r.Read(p)
		return n
	}
	rc, err := s.conn.SyscallConn()
	if err != nil {
		return 0
	}
	n := 0
	_ = rc.Read(func(fd uintptr) bool {
		m, err := unix.Read(int(fd), p)
		if err == nil && m > 0 {
			n = m
		}
		return true // never wait
	})
	return n
}

// Write sends p to the peer. It blocks while the peer reads slower than
// we write: that is the backpressure.
func (s *Stream) Write(p []byte) (int, error) { return s.conn.Write(p) }

// SetWriteDeadline bounds the writes to come (net.Conn's).
func (s *Stream) SetWriteDeadline(t time.Time) error { return s.conn.SetWriteDeadline(t) }

// CloseWrite ends our side of the chat after what was written.
func (s *Stream) CloseWrite() error { return s.conn.CloseWrite() }

// Close drops the stream.
func (s *Stream) Close() error { return s.conn.Close() }

// ErrInputEmpty is MoveFrom's answer when the input holds nothing for now.
var ErrInputEmpty = errors.New("the pipe holds nothing for now")

// ErrCannotMove is MoveFrom's answer when the kernel cannot move from fd
// (a file of /proc, of some FUSE file systems): nothing moved, and the
// caller reads and writes instead.
var ErrCannotMove = errors.New("the kernel cannot move from this input")

// InputError is MoveFrom's answer when reading the input failed, not the
// stream.
type InputError struct{ Err error }

func (e *InputError) Error() string { return e.Err.Error() }
func (e *InputError) Unwrap() error { return e.Err }

// MoveFrom moves up to max bytes from fd, a pipe (pipe true) or a regular
// file, into the stream without copying them through this process:
// splice(2) from a pipe, sendfile(2) from a file (from its offset, which
// it advances). It waits while the stream is full, as Write does, and
// returns how many bytes moved: 0 and a nil error at fd's end, 0 and
// ErrInputEmpty when the input holds nothing for now (a pipe that is
// still open), ErrCannotMove when the kernel cannot move from fd, an
// *InputError when reading fd failed. Whatever
// it reports moved is in the stream, as if written with Write.
func (s *Stream) MoveFrom(fd int, pipe bool, max int) (int, error) {
	rc, err := s.conn.SyscallConn()
	if err != nil {
		return 0, err
	}
	var n int
	var moveErr error
	werr := rc.Write(func(sfd uintptr) bool {
		for {
			if pipe {
				k, err := unix.Splice(fd, nil, int(sfd), nil, max, unix.SPLICE_F_NONBLOCK)
				n, moveErr = int(k), err // k is an int64 on some systems, an int on others
			} else {
				n, moveErr = unix.Sendfile(int(sfd), fd, nil, max)
			}
			switch {
			case moveErr == unix.EINTR:
				continue
			case moveErr == unix.EAGAIN:
				n = 0
				// Either the stream is full: wait until it is writable
				// (the poller's edge comes when it has room). Or the
				// input is empty for now (splice cannot say which): the
				// caller waits for the input. Which it was is told by the
				// stream: waiting for room in a stream that has room
				// would wait for an edge that never comes.
				if !writable(int(sfd)) {
					moveErr = nil
					return false
				}
				moveErr = ErrInputEmpty
				return true
			case moveErr == unix.EINVAL || moveErr == unix.ENOSYS || moveErr == unix.EOPNOTSUPP:
				n, moveErr = 0, ErrCannotMove
			case moveErr == unix.EPIPE || moveErr == unix.ECONNRESET || moveErr == unix.ENOTCONN || moveErr == unix.ESHUTDOWN:
				n = 0 // the stream's other end is gone
			case moveErr != nil:
				// The stream is a working socket of ours: the input failed
				// (a descriptor not open for reading, an I/O error).
				n, moveErr = 0, &InputError{Err: moveErr}
			}
			return true
		}
	})
	if moveErr == nil && werr != nil {
		moveErr = werr // the stream's deadline, or the stream closed
	}
	return n, moveErr
}

// writable reports whether a write to the socket fd would not wait (it has
// room, or it failed and a write would say why).
func writable(fd int) bool {
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLOUT}}
	n, err := unix.Poll(fds, 0)
	return err != nil || n > 0
}
