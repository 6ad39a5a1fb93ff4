package transport

import (
	"errors"
	"log/slog"
	"net"
	"time"
)

// Accept waits for the next connection on l. Errors that pass (running out
// of file descriptors, a deadline) are logged and retried with a growing
// pause of up to a second, so that a burst of connections cannot stop a
// server for good; any other error, such as a closed listener, is returned.
func Accept(l net.Listener, log *slog.Logger) (net.Conn, error) {
	var delay time.Duration
	for {
		c, err := l.Accept()
		if err == nil {
			return c, nil
		}
		if !passing(err) {
			return nil, err
		}
		delay = min(max(2*delay, 5*time.Millisecond), time.Second)
		if log != nil {
			log.Warn("accept failed; retrying", "err", err, "retry_in", delay)
		}
		time.Sleep(delay)
	}
}

// passing reports whether an Accept error is worth retrying.
func passing(err error) bool {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	var t interface{ Temporary() bool }
	return errors.As(err, &t) && t.Temporary()
}
