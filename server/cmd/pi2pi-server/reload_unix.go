//go:build unix

package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

// onReload calls fn on every SIGHUP until ctx ends.
func onReload(ctx context.Context, fn func()) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGHUP)
	go func() {
		defer signal.Stop(ch)
		for {
			select {
			case <-ctx.Done():
				return
			case <-ch:
				fn()
			}
		}
	}()
}
