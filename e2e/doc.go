// Package e2e holds the whole-system tests of pi2pi: they build the real
// pi2pi-server, pi2pid and pi2pictl, start a server and several terminals on
// loopback addresses (and, as root, in network namespaces), and drive them
// the way a user would, with a course-style Python peer for interop and
// attackers written in the tests.
//
// Run them with `go test ./e2e/`; `make soak` adds the long soak test and
// `make bench` the benchmarks against the Python peer.
package e2e
