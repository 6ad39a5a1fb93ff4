//go:build !linux

package transport

import (
	"context"
	"errors"
)

// DirectConn is unused where DialDirect is not available.
type DirectConn struct{}

// ErrNoDirect means DialDirect cannot be used: use Dial.
var ErrNoDirect = errors.New("transport: no direct connection for this address")

// DialDirect is Linux only (see direct_linux.go); elsewhere it always
// returns ErrNoDirect.
func (c *Config) DialDirect(ctx context.Context, addr string) (*DirectConn, error) {
	return nil, ErrNoDirect
}

func (*DirectConn) Read(p []byte) (int, error)  { return 0, ErrNoDirect }
func (*DirectConn) Write(p []byte) (int, error) { return 0, ErrNoDirect }
func (*DirectConn) Close() error                { return nil }

// Unwatch does nothing here.
func (*DirectConn) Unwatch() {}
