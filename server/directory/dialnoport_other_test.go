//go:build !linux

package directory

import "syscall"

// bindNoPort does nothing outside Linux (see the Linux version).
func bindNoPort(_, _ string, _ syscall.RawConn) error { return nil }
