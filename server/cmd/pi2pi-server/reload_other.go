//go:build !unix

package main

import "context"

// onReload does nothing where there is no SIGHUP: the server still picks up
// a changed users file at the next login.
func onReload(ctx context.Context, fn func()) {}
