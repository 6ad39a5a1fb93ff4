package main

import "runtime"

// oneProc runs pi2pid's goroutines on one processor (GOMAXPROCS=1) unless
// the GOMAXPROCS environment variable says otherwise.
//
// pi2pid serves one terminal and one chat at a time: it has no use for
// parallelism, and its hot paths are short hand-offs between goroutines (a
// request's reader to its handler, a handler to the connection's writer,
// the listener to a new connection's goroutine). With a second processor
// the runtime wakes another thread for each goroutine made ready (wakep),
// which spins looking for work before it sleeps again. On a two-core Pi
// that runs both ends of a chat, and in the benchmarks where both pi2pids,
// the server and the clients share two cores, those wake-ups take the CPU
// that the other side of the set-up waits for. With one processor the
// goroutine made ready runs on the same thread as soon as the current one
// waits. docs/design.md ("Where a chat set-up's time goes") has the
// figures.
func oneProc(getenv func(string) string) {
	if getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(1)
	}
}
