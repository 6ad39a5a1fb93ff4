//go:build !windows

package main

import (
	"fmt"
	"io"
)

// runAsService reports false: only Windows has a service control manager.
func runAsService([]string) (code int, ok bool) { return 0, false }

func controlService(c serviceCommand, _ io.Writer) error {
	return fmt.Errorf("service %s: Windows services exist only on Windows; "+
		"elsewhere run `pi2pi-server serve` under systemd (README: \"The server on Linux\")", c.action)
}
