package cli

// The terminal: readline on a terminal, lines from a pipe otherwise.

import (
	"context"
	"errors"
	"fmt"

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
	go e.readLines()
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
	rl, err := readline.NewEx(&readline.Config{
		HistoryFile:            hist,
		DisableAutoSaveHistory: true,
		HistorySearchFold:      true,
		AutoComplete:           e.comp,
		// One byte at a time: keys typed ahead of a prompt stay in the
		// terminal for the passcode reader (see tty.LineMode).
		Stdin:       readline.NewCancelableStdin(tty.ByteReader{R: e.stdin}),
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

func (e *engine) stopReadline() {
	e.out.Close()
	e.mode.HoldAfterLine(false)
	e.rl.Close()
	_ = e.mode.Release()
}

// quiet switches the terminal's echo off ahead of passcode entry, so that
// no digit typed ahead is ever shown; echoBack undoes it before the next
// line is read.
func (e *engine) quiet() {
	if e.mode != nil && e.keypad == "console" {
		_ = e.mode.Quiet()
	}
}

func (e *engine) echoBack() {
	if e.mode != nil {
		_ = e.mode.Release()
	}
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
