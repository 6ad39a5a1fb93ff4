package cli

// The terminal: readline on a terminal, lines from a pipe otherwise.

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/chzyer/readline"
	"github.com/pi2pi/pi2pi/ctl/screen"
	"github.com/pi2pi/pi2pi/ctl/tty"
	"github.com/pi2pi/pi2pi/internal/wire"
)

func runEngine(ctx context.Context, inv *Invocation, f flow) error {
	e := &engine{
		transcript: transcript{flow: f},
		inv:        inv,
		recent:     &recentUsers{},
		results:    make(chan result, 8),
		readReq:    make(chan struct{}),
		linesCh:    make(chan lineResult, 1),
		keyReader:  keyReader{passDone: make(chan error, 1)},
		chatIO:     chatIO{sendQ: make(chan writeItem), sendDone: make(chan error, 1)},
	}
	if f == flowChat {
		peer, err := wire.NormalizeUserID(inv.Args[0])
		if err != nil {
			return usageErrorf("chat: %v", err)
		}
		e.peer = peer
	}
	if f == flowLogin && len(inv.Args) == 1 {
		user, err := wire.NormalizeUserID(inv.Args[0])
		if err != nil {
			return usageErrorf("login: %v", err)
		}
		e.user = user
	}
	c, err := inv.Client(ctx)
	if err != nil {
		return err
	}
	e.client = c
	if stdin, ok := inv.Env.stdinTTY(); ok {
		e.stdin = stdin
		if err := e.startReadline(); err != nil {
			return err
		}
		defer e.stopReadline()
	} else {
		e.in = newPipeLines(inv.Env.Stdin)
		e.out = inv.Out
	}
	e.readerDone = make(chan struct{})
	go func() {
		defer close(e.readerDone)
		e.readLines()
	}()
	go e.sendLines()
	return e.run()
}

func (e *engine) startReadline() error {
	e.comp = &completer{recent: e.recent}
	hist := historyPath(e.inv.Env.getenv)
	if hist != "" && e.flow == flowShell {
		e.recent.load(hist)
	} else {
		hist = ""
	}
	e.mode = tty.NewLineMode(int(e.stdin.Fd()))
	e.keysIn = &heldInput{r: tty.NewStoppableReader(e.stdin)}
	rl, err := readline.NewEx(&readline.Config{
		HistoryFile:            hist,
		DisableAutoSaveHistory: true,
		HistorySearchFold:      true,
		AutoComplete:           e.comp,
		// One byte at a time: keys typed ahead of a prompt stay in the
		// terminal for the passcode reader (see tty.LineMode).
		Stdin:       readline.NewCancelableStdin(tty.ByteReader{R: e.keysIn}),
		FuncMakeRaw: e.mode.Enter,
		FuncExitRaw: e.mode.Exit,
		Stdout:      e.inv.Env.Stdout,
		Stderr:      e.inv.Env.Stderr,
	})
	if err != nil {
		return fmt.Errorf("setting up the terminal: %w", err)
	}
	e.rl = rl
	e.in = readlineLines{rl}
	e.inv.Out.Flush()
	e.out = screen.New(screen.Readline{RL: rl})
	return nil
}

// stopReadline gives the terminal back as pi2pictl ends. A line may be
// being read still: a one-shot chat or wait ends when the peer ends the
// chat, while readline waits for a key. readline's own Close would wait
// for that key (its reader goroutine only ends when a read returns), and
// the key would be lost to the shell. Instead the reading is held (no
// more keys are taken from the terminal), the line under way is dropped
// and wiped from the screen (chat text never sent, or an answer never
// given), and readline is told to end its Readline, which leaves raw
// mode; its reader goroutine stays held until the program exits.
func (e *engine) stopReadline() {
	e.keysIn.hold()
	if e.reading {
		e.out.Do(func() {
			e.rl.Operation.SetBuffer("")
			e.rl.Clean()
		})
	}
	e.out.Close()
	e.mode.HoldAfterLine(false)
	e.rl.Operation.Close() // a Readline under way returns io.EOF
	<-e.readerDone         // and with it readline's raw mode is left
	_ = e.mode.Exit()
	_ = e.mode.Release()
}

// heldInput is readline's input: the terminal, read only once a key is
// there (tty.StoppableReader). Once held, it takes no more keys, and a
// Read waits for good instead of returning: readline takes any error or
// EOF from its input for the end of the line, and would enter (print
// again) what was typed.
type heldInput struct {
	r *tty.StoppableReader
}

func (h *heldInput) Read(p []byte) (int, error) {
	n, err := h.r.Read(p)
	if errors.Is(err, tty.ErrStopped) {
		select {} // held: pi2pictl is ending
	}
	return n, err
}

func (h *heldInput) hold() { h.r.Stop() }

// quiet switches the terminal's echo off ahead of passcode entry, so that
// no digit typed ahead is ever shown; echoBack undoes it before the next
// line is read, except in a chat (chatTerminal).
func (e *engine) quiet() {
	if e.mode != nil && e.keypad == "console" {
		_ = e.mode.Quiet()
	}
}

func (e *engine) echoBack() {
	if e.mode != nil && e.phase != phChat {
		_ = e.mode.Release()
	}
}

// chatTerminal keeps a chat's terminal out of its own (cooked) mode from
// the chat's start to its end, between lines too, so that what is typed
// or pasted reaches readline as keys, in order. In the terminal's own
// mode the kernel takes a CTRL-C that arrives between two lines (or
// before the first line is read) for a signal, and throws away what the
// terminal still holds: a paste of lines with CTRL-C after the last Enter
// lost lines that had been entered. Called before the chat's start is
// shown, unless a line is being read (readline's raw mode then goes
// straight to the held mode when the line ends, see setPhase).
func (e *engine) chatTerminal() {
	if e.mode != nil && !e.reading {
		_ = e.mode.Quiet()
	}
}

// slowWrite is how long a typed line's write may wait for a slow peer
// before the terminal is given back its own mode, so that CTRL-C (a
// signal then) can end the chat while the write waits.
const slowWrite = 200 * time.Millisecond

// whenSlow is what a line's write does once it has waited slowWrite: it
// gives the terminal back its own mode (nothing reads keys meanwhile).
func (e *engine) whenSlow() func() {
	m := e.mode
	if m == nil {
		return nil
	}
	return func() { _ = m.Release() }
}

// readLines reads one line each time the engine asks for one.
func (e *engine) readLines() {
	for range e.readReq {
		line, err := e.in.ReadLine()
		e.linesCh <- lineResult{line, err}
		if err != nil && !errors.Is(err, errInterrupted) {
			return
		}
	}
}

func (e *engine) saveHistory(line string) {
	if e.rl != nil && e.flow == flowShell {
		_ = e.rl.SaveHistory(line)
	}
}
