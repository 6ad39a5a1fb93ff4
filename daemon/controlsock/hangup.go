package controlsock

import (
	"context"
	"net"

	"golang.org/x/sys/unix"
)

// hangupPoll is how often WatchHangup looks at the socket, in ms.
const hangupPoll = 250

// WatchHangup closes c as soon as the client hangs up, until ctx is done.
// The reader notices a hang-up by reading, but it reads no request while
// the handler of the one before waits (chat text held up by a slow peer is
// exactly that wait, and the client may give up on it): a handler that
// may wait long runs WatchHangup beside it.
func (c *Conn) WatchHangup(ctx context.Context) {
	uc, ok := c.nc.(*net.UnixConn)
	if !ok {
		return
	}
	rc, err := uc.SyscallConn()
	if err != nil {
		return
	}
	for ctx.Err() == nil {
		hung := false
		if err := rc.Control(func(fd uintptr) {
			fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLRDHUP}}
			n, err := unix.Poll(fds, hangupPoll)
			hung = err == nil && n > 0 && fds[0].Revents&(unix.POLLRDHUP|unix.POLLHUP|unix.POLLERR) != 0
		}); err != nil {
			return // the connection is closed already
		}
		if hung {
			c.Close()
			return
		}
	}
}
