package cli

// The engine: the plumbing of pi2pictl's transcript (the terminal, the
// connection to pi2pid, the channels), and the one loop that turns what
// arrives into inputs for step (step.go), which decides.

import (
	"errors"
	"os"
	"time"

	"github.com/chzyer/readline"
	"github.com/pi2pi/pi2pi/ctl/peertext"
	"github.com/pi2pi/pi2pi/ctl/screen"
	"github.com/pi2pi/pi2pi/ctl/tty"
	"github.com/pi2pi/pi2pi/internal/control"
)

// result is the answer to a request made in the background.
type result struct {
	op  control.Op
	rep control.Reply
	err error
}

type lineResult struct {
	line string
	err  error
}

// engine runs the transcript: it is the only goroutine that decides what
// happens; input, daemon events and request results all come to it as
// inputs for step (step.go). Its state is the transcript; the rest is
// plumbing: the terminal, the connection to pi2pid and the channels.
type engine struct {
	transcript

	inv    *Invocation
	client *control.Client
	out    *screen.Screen
	in     lineSource
	stdin  *os.File   // the terminal, when stdin is one
	keysIn *heldInput // readline's input from stdin
	rl     *readline.Instance
	mode   *tty.LineMode // readline's raw mode, which can keep echo off after a line
	comp   *completer
	recent *recentUsers

	results chan result
	readReq chan struct{}
	linesCh chan lineResult
	// readerDone is closed when readLines has returned.
	readerDone chan struct{}
	reading    bool
	eof        bool             // the input has ended
	cancelC    <-chan time.Time // runs out when pi2pid does not confirm a cancel

	keyReader
	chatIO
}

// keyReader is the passcode reader's plumbing.
type keyReader struct {
	keysBusy bool // the passcode reader has the terminal
	// keys is the passcode reader's input while keysBusy. Passcode entry
	// can end without a key from this terminal (pi2pid's entry timeout,
	// another client's logout, SIGINT): stopKeys then stops the reader,
	// which otherwise would wait for a key, and take it from the next
	// prompt. keysStopped is set once it was told to stop.
	keys        stopper
	keysStopped bool
	passDone    chan error
}

// chatIO is the plumbing of a chat: its stream, what is being written to
// it, and what was received and not yet shown.
type chatIO struct {
	lines   peertext.Lines
	script  bool // chat text goes to a script: as it arrived, unlabelled
	midLine bool // script: the text written so far did not end its line
	flushC  <-chan time.Time
	// stream is the data stream of the chat in progress (stream.go), nil
	// when none is open. carry is an incomplete UTF-8 character at the end
	// of the last chunk; endWhy, once chat-end came, waits for the
	// stream's end so that "Connection ended" comes after all the text.
	stream *chatStream
	carry  runeCarry
	endWhy *string
	// pump sends stdin during a chat when stdin is no terminal and the
	// command is chat or wait (see pump.go); nil otherwise.
	pump *pump
	// interrupted: CTRL-C was pressed in this chat; the next one, while
	// it ends, leaves at once.
	interrupted bool
	// inputFailed: reading stdin failed during a chat (said on stderr);
	// the command ends with exit code 1.
	inputFailed bool
	// Lines typed in a chat are written by sendLines, one at a time, so
	// that the engine goes on showing what arrives while a slow peer holds
	// a write up; no line is read meanwhile (backpressure). endPending:
	// the end waits for the write under way, so that it goes out after it.
	sendQ      chan writeItem
	sendDone   chan error
	sending    bool
	endPending bool
}

func (e *engine) run() error {
	defer close(e.readReq)
	defer close(e.sendQ)
	st, err := e.status()
	if err != nil {
		return err
	}
	e.step(input{kind: inStatus, status: st})
	events := e.client.Events()
	for !e.done {
		if e.wantLine() && !e.reading && !e.eof {
			e.echoBack()
			e.out.Prompt(e.prompt())
			e.out.Flush()
			e.reading = true
			e.readReq <- struct{}{}
		}
		for _, in := range e.next(events) {
			e.step(in)
		}
	}
	if e.stream != nil {
		e.stream.close()
	}
	e.releaseKeys()
	e.echoBack()
	e.out.Flush()
	return e.exit
}

func (e *engine) wantLine() bool {
	if e.keysBusy {
		return false
	}
	switch e.phase {
	case phLogin, phDest:
		return true
	case phChat:
		return e.pump == nil && !e.sending
	case phPasscode:
		return e.keypad == control.KeypadConsole && e.stdin == nil
	}
	return false
}

func (e *engine) setPhase(p phase) {
	old, oldPhase := e.prompt(), e.phase
	e.phase = p
	if e.mode != nil {
		// A user ID read at "Login: " is followed by the passcode:
		// keep echo off from the moment the line ends. In a chat the
		// terminal stays out of its own mode between lines (see
		// chatTerminal).
		e.mode.HoldAfterLine(p == phLogin && e.keypad == "console" || p == phChat)
		if oldPhase == phChat && p != phChat {
			_ = e.mode.Release() // CTRL-C is a signal again
		}
	}
	if e.comp != nil {
		switch p {
		case phLogin:
			e.comp.mode.Store(completeLogin)
		case phDest:
			e.comp.mode.Store(completeDest)
		default:
			e.comp.mode.Store(completeNothing)
		}
	}
	if e.reading && e.prompt() != old {
		e.out.Prompt(e.prompt())
	}
}

func (e *engine) finish(err error) {
	e.exit = err
	e.done = true
}

// fail reports msg, the refusal or failure of the command asked for, and
// ends with exit code 1.
func (e *engine) fail(msg string) {
	e.out.Errorln("pi2pictl: " + sentence(msg))
	e.finish(errReported)
}

// next waits for the next input: it turns what a channel brings into an
// input for step, and decides nothing. A result comes after the events
// that arrived before it.
func (e *engine) next(events <-chan control.Reply) []input {
	in := e.receive(events)
	if in.kind == resLogin || in.kind == resChat || in.kind == resWait {
		// The daemon sends a result's events first: they are taken first.
		return append(e.pendingEvents(), in)
	}
	return []input{in}
}

func (e *engine) receive(events <-chan control.Reply) input {
	select {
	case ev, ok := <-events:
		if !ok {
			return input{kind: inEventsClosed}
		}
		return eventInput(ev)
	case r := <-e.results:
		return resultInput(r)
	case l := <-e.linesCh:
		e.reading = false
		switch {
		case errors.Is(l.err, errInterrupted):
			return input{kind: inLineInterrupt} // readline has cleared the line
		case l.err != nil:
			e.eof = true
			return input{kind: inEOF}
		}
		return input{kind: inLine, line: l.line}
	case err := <-e.passDone:
		return input{kind: inKeysDone, err: err}
	case <-e.inv.Env.Interrupts:
		return input{kind: inSignal}
	case <-e.flushC:
		return input{kind: inFlush}
	case <-e.sendDone:
		return input{kind: inLineSent}
	case listening := <-e.pumpEOF():
		return input{kind: inPumpEOF, listening: listening, err: e.pump.readErr}
	case b, ok := <-e.streamData():
		if !ok {
			return input{kind: inStreamEnd}
		}
		return input{kind: inStreamData, data: b}
	case <-e.cancelC:
		return input{kind: inCancelTimeout}
	}
}
