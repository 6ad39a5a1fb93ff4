//go:build unix

package main

import "syscall"

// openFileLimit returns the soft limit on open files (which the Go runtime
// has already raised to the hard limit), or 0 when it is unknown.
func openFileLimit() uint64 {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
		return 0
	}
	return r.Cur
}
