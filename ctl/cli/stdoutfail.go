package cli

// A stdout that cannot be written (a full disk, /dev/full, an I/O error):
// what the peer sends would vanish. pi2pictl says so and ends the chat at
// once (README, "When the output cannot be written"; docs/protocol.md §6).

import (
	"errors"
	"syscall"

	"github.com/pi2pi/pi2pi/ctl/peertext"
	"github.com/pi2pi/pi2pi/internal/control"
)

// checkStdout ends the chat when the screen could not write to stdout.
// It is called after a chunk of the peer's text was flushed: a failed
// write of pi2pictl's own lines (the banner, a prompt) is caught there
// too, or at the end of the run (Run).
func (e *engine) checkStdout() {
	if err := e.out.Err(); err != nil && !e.done {
		e.stdoutFailed(err)
	}
}

// showRest shows the rest of the peer's text when the peer has ended
// (chat-ending with PeerEnded: pi2pid wrote the stream's end before it),
// before our side ends: had our side ended first, pi2pid would end the
// chat as usual, and a stdout that fails on that text could no longer drop
// it. It reports whether the chat was dropped.
func (e *engine) showRest() bool {
	e.drainStream()
	return e.done
}

// stdoutFailed: the peer's text cannot be written. Taking more of it would
// lose it silently, so the chat is dropped: pi2pid resets the connection
// to the peer (drop-chat), whose pi2pictl then reports a broken chat
// instead of an ordinary end, and the stream is closed without reading
// the rest. pi2pictl exits with 1.
func (e *engine) stdoutFailed(err error) {
	if e.stream != nil {
		// Before the stream's close, which pi2pid would take for our
		// ordinary end. A pi2pid without drop-chat refuses it: then the
		// close alone ends the chat.
		ctx, cancel := callCtx()
		_, _ = e.client.Call(ctx, control.Request{Op: control.OpDropChat})
		cancel()
	}
	if e.pump != nil {
		e.pump.stop()
	}
	if e.stream != nil {
		e.stream.abandon()
		e.stream = nil
	}
	e.chatOpen = false
	e.out.Errorln("pi2pictl: " + stdoutFailedMsg(e.peer, err))
	e.finish(errReported)
}

// abandon closes the stream and frees its reader, whose chunks nobody
// will show.
func (cs *chatStream) abandon() {
	cs.close()
	if cs.eof {
		return
	}
	go func() {
		for b := range cs.data {
			cs.free <- b[:cap(b)] // room for both buffers: never blocks
		}
	}()
}

// stdoutFailedMsg says that stdout cannot be written, and what to do;
// peer is the user whose text was to be shown, or "".
func stdoutFailedMsg(peer string, err error) string {
	what := "cannot write to the standard output (" + err.Error() + ")"
	if peer != "" {
		what = "cannot write what " + peertext.Clean(peer) + " sends to the standard output (" + err.Error() + "), so the chat is ended"
	}
	advice := "send the output somewhere it can be written"
	switch {
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT):
		advice = "free some space or send the output elsewhere"
	case errors.Is(err, syscall.EBADF):
		advice = "run pi2pictl with its standard output open for writing"
	}
	return sentence(what + ": " + advice)
}
