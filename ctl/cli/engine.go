package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/chzyer/readline"
	"github.com/pi2pi/pi2pi/ctl/passcode"
	"github.com/pi2pi/pi2pi/ctl/peertext"
	"github.com/pi2pi/pi2pi/ctl/screen"
	"github.com/pi2pi/pi2pi/ctl/tty"
	"github.com/pi2pi/pi2pi/internal/control"
	"github.com/pi2pi/pi2pi/internal/wire"
)

// The course handouts' transcript lines.
const (
	promptLogin      = "Login: "
	promptDest       = "Enter destination user ID: "
	linePasscode     = "Enter passcode on keypad."
	lineLoggedIn     = "Logged in."
	lineEstablished  = "Connection established, type your messages"
	lineReceivedFmt  = "Connection received from user %s, type your messages"
	lineEnded        = "Connection ended"
	passcodeHint     = "(type the digits here; nothing is shown. Enter or A validates, Backspace or B deletes, Esc or C cancels)"
	partialLineDelay = 300 * time.Millisecond
	// cancelConfirmTimeout bounds the wait for pi2pid's login event
	// after a cancel, should it never come.
	cancelConfirmTimeout = 15 * time.Second
)

// flow is what the engine was started to do.
type flow int

const (
	flowShell flow = iota // the interactive shell
	flowLogin             // pi2pictl login
	flowChat              // pi2pictl chat USERID
	flowWait              // pi2pictl wait
)

// phase is where the engine is in the transcript.
type phase int

const (
	phLogin      phase = iota // reading the user ID at "Login: "
	phLoggingIn               // login requested, waiting for passcode entry to start
	phPasscode                // the passcode is being entered
	phVerifying               // the passcode was sent, waiting for the daemon's verdict
	phDest                    // at "Enter destination user ID: ", attached for incoming chats
	phConnecting              // chat requested
	phWaiting                 // attached, waiting for an incoming chat (pi2pictl wait)
	phChat                    // chatting: lines typed are sent
	phEnding                  // end requested, waiting for the daemon to confirm
	phEnded                   // the chat of a one-shot command is over
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
// happens; input, daemon events and request results all come to it.
type engine struct {
	flow   flow
	inv    *Invocation
	client *control.Client
	out    *screen.Screen
	in     lineSource
	stdin  *os.File // the terminal, when stdin is one
	rl     *readline.Instance
	mode   *tty.LineMode // readline's raw mode, which can keep echo off after a line
	comp   *completer
	recent *recentUsers

	phase        phase
	user         string         // who logs in
	peer         string         // who we chat with
	keypad       control.Keypad // from the status
	started      bool           // the current chat has started
	chatOpen     bool           // a chat was announced and its end not yet shown
	quitAfterEnd bool
	endOnStart   bool
	lines        peertext.Lines
	exit         error
	done         bool

	// passcodeStarted is set once passcode entry has begun for the
	// current login attempt. The daemon may announce that start twice
	// (the login result may name the keypad, and the "passcode" event
	// comes before or after it, even after the keys we send); only the
	// first announcement counts.
	passcodeStarted bool

	// cancelling is set once pi2pictl asked pi2pid to cancel the current
	// login attempt (the Cancel key, or a logout for the gpio keypad).
	// pi2pid ends passcode entry on its own time and then sends its login
	// event, so the attempt ends with that event, not when the request
	// was sent: ending it sooner would let the event, arriving late, end
	// the next attempt (and pi2pid would refuse that attempt while it
	// still reads the old passcode). cancelWhy, when set, is shown
	// instead of "Login cancelled.".
	cancelling bool
	cancelWhy  string
	cancelC    <-chan time.Time

	results  chan result
	readReq  chan struct{}
	linesCh  chan lineResult
	reading  bool
	eof      bool // the input has ended
	keysBusy bool // the passcode reader has the terminal
	// keys is the passcode reader's input while keysBusy. Passcode entry
	// can end without a key from this terminal (pi2pid's entry timeout,
	// another client's logout, SIGINT): stopKeys then stops the reader,
	// which otherwise would wait for a key, and take it from the next
	// prompt. keysStopped is set once it was told to stop.
	keys        stopper
	keysStopped bool
	passDone    chan error
	flushC      <-chan time.Time
	// pump sends stdin during a chat when stdin is no terminal and the
	// command is chat or wait (see pump.go); nil otherwise.
	pump *pump
	// Lines typed in a chat are sent by sendLines, one at a time, so that
	// the engine goes on showing what arrives while a slow peer holds a
	// send up; no line is read meanwhile (backpressure). endPending: the
	// end waits for the send under way, so that it goes out after it.
	sendQ      chan string
	sendDone   chan error
	sending    bool
	endPending bool
}

func runEngine(ctx context.Context, inv *Invocation, f flow) error {
	e := &engine{
		flow:     f,
		inv:      inv,
		recent:   &recentUsers{},
		results:  make(chan result, 8),
		readReq:  make(chan struct{}),
		linesCh:  make(chan lineResult, 1),
		passDone: make(chan error, 1),
		sendQ:    make(chan string),
		sendDone: make(chan error, 1),
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

func (e *engine) run() error {
	defer close(e.readReq)
	defer close(e.sendQ)
	st, err := e.status()
	if err != nil {
		return err
	}
	e.keypad = st.Keypad
	switch e.flow {
	case flowShell:
		if loggedIn(st) {
			e.user = st.UserID
			e.enterDest()
		} else {
			e.setPhase(phLogin)
		}
	case flowLogin:
		if loggedIn(st) && e.stillLoggedIn(st.UserID) {
			if e.user != "" && e.user != st.UserID {
				e.fail("pi2pid is logged in as " + peertext.Clean(st.UserID) + "; run `pi2pictl logout` first to log in as " + e.user)
				return e.exit
			}
			e.out.Println("Already logged in as " + st.UserID + ".")
			return nil
		}
		if e.user != "" {
			e.out.Println(promptLogin + e.user)
			e.login()
		} else {
			e.setPhase(phLogin)
		}
	case flowChat:
		e.chat()
	case flowWait:
		e.setPhase(phWaiting)
		e.call(control.OpWait, control.Request{Op: control.OpWait})
	}
	events := e.client.Events()
	for !e.done {
		if e.wantLine() && !e.reading && !e.eof {
			e.echoBack()
			e.out.Prompt(e.prompt())
			e.out.Flush()
			e.reading = true
			e.readReq <- struct{}{}
		}
		select {
		case ev, ok := <-events:
			if !ok {
				e.fail(explain(e.client.Err(), e.inv.Socket))
				break
			}
			e.onEvent(ev)
		case r := <-e.results:
			e.drainEvents()
			e.onResult(r)
		case l := <-e.linesCh:
			e.reading = false
			e.onLine(l.line, l.err)
		case err := <-e.passDone:
			e.passcodeReaderDone(err)
		case <-e.inv.Env.Interrupts:
			e.onInterrupt()
		case <-e.flushC:
			e.flushC = nil
			if s, ok := e.lines.Flush(); ok {
				e.out.Println(s)
			}
		case err := <-e.sendDone:
			e.lineSent(err)
		case listening := <-e.pumpEOF():
			e.onPumpEOF(listening)
		case err := <-e.pumpFailed():
			e.fail(explain(err, e.inv.Socket))
		case <-e.cancelC:
			e.cancelC = nil
			e.out.Errorln("pi2pid did not confirm that passcode entry was cancelled (see pi2pictl status)")
			e.loginFailed(control.CodeCancelled, "")
		}
	}
	e.releaseKeys()
	e.echoBack()
	e.out.Flush()
	return e.exit
}

// stopper is something reading in the background that can be told to stop.
type stopper interface{ Stop() }

// stopKeys stops the passcode reader, if it runs: passcode entry ended, or
// is ending, without a key from this terminal. The reader restores the
// terminal and reports on e.passDone; the loop reads no line until then.
func (e *engine) stopKeys() {
	if e.keysBusy && e.keys != nil && !e.keysStopped {
		e.keysStopped = true
		e.keys.Stop()
	}
}

// passcodeReaderDone handles the end of the passcode reader (or of the
// keys sent from a passcode line): the terminal is back to line mode.
func (e *engine) passcodeReaderDone(err error) {
	stopped := e.keysStopped
	e.keysBusy, e.keys, e.keysStopped = false, nil, false
	if stopped && err != nil {
		// Whatever it met on its way out (a key refused because
		// passcode entry had ended), the engine stopped it.
		err = tty.ErrStopped
	}
	e.onPasscodeDone(err)
}

// releaseKeys stops the passcode reader as the engine ends and waits for
// it to restore the terminal's mode, which pi2pictl must not leave
// without echo.
func (e *engine) releaseKeys() {
	if !e.keysBusy {
		return
	}
	e.stopKeys()
	select {
	case err := <-e.passDone:
		e.passcodeReaderDone(err)
	case <-time.After(callTimeout + time.Second):
		// A key press still waits for pi2pid; the terminal is left as is.
	}
}

// stillLoggedIn asks pi2pid to confirm its login of user with the server
// (a login request without a user ID). When the server had forgotten it,
// pi2pid is logged out now and stillLoggedIn says so on stderr. Any other
// answer, a pi2pid too old to check included, counts as logged in.
func (e *engine) stillLoggedIn(user string) bool {
	ctx, cancel := callCtx()
	defer cancel()
	rep, err := e.client.Call(ctx, control.Request{Op: control.OpLogin})
	if err != nil || rep.State != control.StateLoggedOut {
		return true
	}
	e.out.Errorln("pi2pid was logged in as " + peertext.Clean(user) + ", but the server no longer knows that login (it may have restarted or timed you out): logging in again.")
	return false
}

func (e *engine) status() (*control.Status, error) {
	ctx, cancel := callCtx()
	defer cancel()
	rep, err := e.client.Call(ctx, control.Request{Op: control.OpStatus})
	if err != nil {
		return nil, err
	}
	if rep.Status == nil {
		return nil, errors.New("pi2pid sent no status")
	}
	return rep.Status, nil
}

// call makes a request in the background; its result comes to the loop.
func (e *engine) call(op control.Op, req control.Request) {
	go func() {
		rep, err := e.client.Call(context.Background(), req)
		select {
		case e.results <- result{op, rep, err}:
		case <-e.client.Done():
		}
	}()
}

// drainEvents handles the events that arrived before a result: the
// daemon sends them first, and they must be acted on first.
func (e *engine) drainEvents() {
	for {
		select {
		case ev, ok := <-e.client.Events():
			if !ok {
				return
			}
			e.onEvent(ev)
		default:
			return
		}
	}
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

func (e *engine) prompt() string {
	switch e.phase {
	case phLogin:
		return promptLogin
	case phDest:
		return promptDest
	}
	return ""
}

func (e *engine) setPhase(p phase) {
	old := e.prompt()
	e.phase = p
	if e.mode != nil {
		// A user ID read at "Login: " is followed by the passcode:
		// keep echo off from the moment the line ends.
		e.mode.HoldAfterLine(p == phLogin && e.keypad == "console")
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

// fail reports msg and ends with exit code 1.
func (e *engine) fail(msg string) {
	e.out.Errorln("pi2pictl: " + msg)
	e.finish(errReported)
}

func (e *engine) saveHistory(line string) {
	if e.rl != nil && e.flow == flowShell {
		_ = e.rl.SaveHistory(line)
	}
}

// onLine handles a line typed (or read from the pipe).
func (e *engine) onLine(line string, err error) {
	if errors.Is(err, errInterrupted) {
		if e.phase == phChat {
			e.endChat(false)
		}
		return // at a prompt, readline has cleared the line
	}
	if err != nil {
		e.eof = true
		e.onEOF()
		return
	}
	switch e.phase {
	case phLogin:
		e.onLoginLine(line)
	case phPasscode:
		e.sendPasscodeLine(line)
	case phDest:
		e.onDestLine(line)
	case phChat:
		e.sending = true
		e.sendQ <- line + "\n"
	}
}

func (e *engine) onEOF() {
	e.out.Prompt("") // end the prompt's line, as a shell does on CTRL-D
	switch e.phase {
	case phChat:
		e.quitAfterEnd = true
		e.endChat(false)
	case phPasscode:
		_ = e.client.Send(control.Request{Op: control.OpKey, Key: passcode.Cancel})
		e.fail("no passcode given: stdin ended")
	case phLogin:
		if e.flow == flowLogin {
			e.fail("no user ID given: stdin ended")
			return
		}
		e.finish(nil)
	default:
		e.finish(nil)
	}
}

// userIDLine handles a line typed at a prompt that asks for a user ID: a
// blank line is ignored, a /command runs, and anything else must be a user
// ID. A user ID is echoed, kept in the history and returned; anything else
// is refused with a message ending in hint, and the reason returned.
// Blank lines and commands return "", nil.
func (e *engine) userIDLine(line, hint string) (string, error) {
	line = strings.TrimSpace(line)
	if line == "" {
		return "", nil
	}
	if strings.HasPrefix(line, "/") {
		e.saveHistory(line)
		e.shellCommand(line)
		return "", nil
	}
	user, err := wire.NormalizeUserID(line)
	if err != nil {
		e.out.Errorln(fmt.Sprintf("%q is not a user ID: %v%s", line, err, hint))
		return "", err
	}
	e.out.Answered(line)
	e.saveHistory(user)
	return user, nil
}

func (e *engine) onLoginLine(line string) {
	user, err := e.userIDLine(line, "")
	if err != nil && e.flow == flowLogin && e.stdin == nil {
		e.finish(usageErrorf("login: %v", err))
	}
	if user == "" {
		return
	}
	e.recent.add(user)
	e.user = user
	e.login()
}

func (e *engine) login() {
	e.quiet()
	e.passcodeStarted = false
	e.endCancel()
	e.setPhase(phLoggingIn)
	e.call(control.OpLogin, control.Request{Op: control.OpLogin, UserID: e.user})
}

// startPasscode begins passcode entry on the keypad the daemon named. The
// daemon announces that its keypad listens with the "passcode" event, and
// may also name the keypad in the login result; startPasscode acts once
// per login attempt, on whichever comes first: a second announcement,
// even one arriving after the passcode was sent, changes nothing.
//
// The "reading-passcode" state event is no such announcement: pi2pid
// sends it before its keypad listens, and console keys sent then are
// refused.
func (e *engine) startPasscode(keypad control.Keypad) {
	if e.cancelling && e.loggingIn() && !e.passcodeStarted {
		// Cancelled before pi2pid's keypad listened, which refused the
		// Cancel key: press it again now that the keypad takes it.
		e.passcodeStarted = true
		if keypad == "" {
			keypad = e.keypad
		}
		if keypad == control.KeypadConsole {
			_ = e.client.Send(control.Request{Op: control.OpKey, Key: passcode.Cancel})
		}
		return
	}
	if e.phase != phLoggingIn || e.passcodeStarted {
		return
	}
	e.passcodeStarted = true
	if keypad != "" {
		e.keypad = keypad
	}
	e.setPhase(phPasscode)
	// Echo off before the prompt shows: a key typed the moment it
	// appears must not be echoed.
	e.quiet()
	e.out.Println(linePasscode)
	if e.keypad != control.KeypadConsole || e.stdin == nil {
		return // gpio: the daemon reads the keypad; pipe: wantLine reads a line
	}
	e.out.Errorln(passcodeHint)
	e.out.Flush()
	fd := int(e.stdin.Fd())
	keys := tty.NewStoppableReader(e.stdin)
	e.keysBusy, e.keys, e.keysStopped = true, keys, false
	go func() {
		st, err := tty.KeysNoEcho(fd)
		if err != nil {
			e.passDone <- fmt.Errorf("switching the terminal to passcode mode: %w", err)
			return
		}
		err = passcode.ReadKeys(keys, func() bool { return tty.Readable(fd, 30*time.Millisecond) }, e.pressKey)
		// Restore before reporting: readline takes the terminal next.
		st.Restore()
		e.passDone <- err
	}()
}

func (e *engine) pressKey(key control.Key) error {
	ctx, cancel := callCtx()
	defer cancel()
	_, err := e.client.Call(ctx, control.Request{Op: control.OpKey, Key: key})
	return err
}

// sendPasscodeLine sends a passcode read from a pipe as key presses.
func (e *engine) sendPasscodeLine(line string) {
	keys, err := passcode.FromLine(line)
	if err != nil {
		if e.pressKey(passcode.Cancel) == nil {
			e.awaitCancel(err.Error())
			return
		}
		e.onPasscodeDone(err)
		return
	}
	e.setPhase(phVerifying) // read no more lines; wait for the outcome
	go func() {
		for _, k := range keys {
			if err := e.pressKey(k); err != nil {
				e.passDone <- err
				return
			}
		}
		e.passDone <- nil
	}()
}

func (e *engine) onPasscodeDone(err error) {
	if err == nil || errors.Is(err, tty.ErrStopped) {
		// Enter was pressed, or passcode entry ended (or is ending)
		// without it: either way the outcome arrives as a login event.
		if e.phase == phPasscode {
			e.setPhase(phVerifying)
		}
		return
	}
	switch {
	case errors.Is(err, passcode.ErrCancelled):
		// pi2pid took the Cancel key; its login event ends the attempt.
		e.awaitCancel("")
	case control.CodeOf(err) == control.CodeCancelled:
		e.loginFailed(control.CodeCancelled, "")
	case control.CodeOf(err) != "":
		e.loginFailed("", refusal(err, ""))
	default:
		e.loginFailed("", err.Error())
	}
}

// loggingIn reports whether a login attempt is under way.
func (e *engine) loggingIn() bool {
	switch e.phase {
	case phLoggingIn, phPasscode, phVerifying:
		return true
	}
	return false
}

// awaitCancel waits for pi2pid's login event after pi2pictl asked it to
// cancel the login attempt (see engine.cancelling); why, when set, is
// what the person is told then instead of "Login cancelled.".
func (e *engine) awaitCancel(why string) {
	if !e.loggingIn() || e.cancelling {
		return
	}
	e.cancelling, e.cancelWhy = true, why
	e.cancelC = time.After(cancelConfirmTimeout)
	e.setPhase(phVerifying)
}

// endCancel forgets a cancel asked for: the attempt has ended.
func (e *engine) endCancel() {
	e.cancelling, e.cancelWhy, e.cancelC = false, "", nil
}

func (e *engine) loginFailed(code control.Code, msg string) {
	e.stopKeys()
	if !e.loggingIn() {
		return
	}
	if e.cancelling && e.cancelWhy != "" && code == control.CodeCancelled {
		code, msg = "", e.cancelWhy
	}
	e.endCancel()
	e.out.Errorln(loginRefusal(code, msg))
	if e.flow == flowLogin {
		e.finish(errReported)
		return
	}
	e.setPhase(phLogin)
}

func (e *engine) loggedIn(user string, failedAttempts int) {
	e.stopKeys()
	if !e.loggingIn() {
		return
	}
	e.endCancel()
	if user != "" {
		e.user = user
	}
	e.out.Println(lineLoggedIn)
	if line := failedAttemptsLine(failedAttempts); line != "" {
		e.out.Println(line)
	}
	if e.flow == flowLogin {
		e.finish(nil)
		return
	}
	e.enterDest()
}

// failedAttemptsLine tells the user, after "Logged in.", how many login
// attempts on the account failed since the previous login (nothing for 0).
func failedAttemptsLine(n int) string {
	switch {
	case n <= 0:
		return ""
	case n == 1:
		return "There was 1 failed login attempt since your last login."
	}
	return fmt.Sprintf("There were %d failed login attempts since your last login.", n)
}

// enterDest shows the destination prompt and attaches for incoming chats.
func (e *engine) enterDest() {
	e.setPhase(phDest)
	e.call(control.OpWait, control.Request{Op: control.OpWait})
}

func (e *engine) onDestLine(line string) {
	peer, _ := e.userIDLine(line, " (type /help for commands)")
	if peer == "" {
		return
	}
	e.peer = peer
	e.chat()
}

func (e *engine) chat() {
	e.recent.add(e.peer)
	e.started = false
	e.endOnStart = false
	e.setPhase(phConnecting)
	e.call(control.OpChat, control.Request{Op: control.OpChat, UserID: e.peer})
}

// shellCommand runs /NAME ARGS from the command table.
func (e *engine) shellCommand(line string) {
	fields := strings.Fields(strings.TrimPrefix(line, "/"))
	if len(fields) == 0 {
		return
	}
	switch fields[0] {
	case "quit", "exit":
		e.finish(nil)
		return
	case "chat":
		if e.phase != phDest {
			e.out.Errorln("log in first")
			return
		}
		if len(fields) != 2 {
			e.out.Errorln("usage: /chat <USERID>")
			return
		}
		e.onDestLine(fields[1])
		return
	}
	cmd := lookup(fields[0])
	if cmd == nil || !cmd.Shell {
		e.out.Errorln(fmt.Sprintf("unknown command /%s: type /help", fields[0]))
		return
	}
	inv := &Invocation{Env: e.inv.Env, Socket: e.inv.Socket, Out: e.out, client: e.client, shell: true}
	args, err := shellArgs(cmd, inv, fields[1:])
	if err == nil {
		err = cmd.checkArgs(args)
	}
	if err != nil {
		e.out.Errorln(err.Error())
		return
	}
	inv.Args = args
	ctx, cancel := callCtx()
	defer cancel()
	if err := cmd.Run(ctx, inv); err != nil {
		e.out.Errorln(explain(err, e.inv.Socket))
		return
	}
	if cmd == logoutCmd {
		e.setPhase(phLogin)
	}
}

func (e *engine) onResult(r result) {
	switch r.op {
	case control.OpLogin:
		if r.err != nil {
			if control.CodeOf(r.err) == control.CodeLoggedIn && e.flow == flowShell {
				// Someone logged in meanwhile; check.
				if st, err := e.status(); err == nil && loggedIn(st) {
					e.loggedIn(st.UserID, 0)
					return
				}
			}
			e.loginFailed("", refusal(r.err, ""))
			return
		}
		if r.rep.Keypad != "" {
			e.startPasscode(r.rep.Keypad)
		}
	case control.OpChat:
		if r.err != nil {
			if e.phase != phConnecting {
				return
			}
			e.out.Errorln(refusal(r.err, e.peer))
			if e.flow == flowShell {
				e.enterDest()
				return
			}
			e.finish(errReported)
			return
		}
		// A chat that started and already ended (its events came
		// first, see drainEvents) is not started again.
		if !e.started && e.phase == phConnecting {
			rep := r.rep
			if rep.Peer == "" {
				rep.Peer = e.peer
			}
			rep.Direction = control.Outgoing
			e.chatStarted(rep)
		}
	case control.OpWait:
		if r.err != nil && (e.phase == phWaiting || e.phase == phDest) {
			if e.flow == flowWait {
				e.out.Errorln(refusal(r.err, ""))
				e.finish(errReported)
				return
			}
			e.out.Errorln("incoming chats cannot reach this shell: " + refusal(r.err, ""))
		}
	case control.OpEnd:
		if r.err != nil && e.phase == phEnding {
			e.chatEnded("")
		}
	}
}

func (e *engine) onEvent(ev control.Reply) {
	if e.done {
		return // a one-shot command has finished; the rest is not its business
	}
	switch ev.Event {
	case control.EventPasscode:
		e.startPasscode(ev.Keypad)
	case control.EventLogin:
		if ev.OK {
			e.loggedIn(ev.UserID, ev.FailedAttempts)
		} else {
			e.loginFailed(ev.Code, eventWords(ev))
		}
	case control.EventChatStart:
		if !e.started && (e.phase == phConnecting || e.phase == phDest || e.phase == phWaiting) {
			e.chatStarted(ev)
		}
	case control.EventLine:
		if e.phase != phChat && e.phase != phEnding {
			return
		}
		if ls := e.lines.Add(ev.Text); e.rl == nil && len(ls) > 0 {
			// A pipe or a file: one write for the whole chunk.
			e.out.Println(strings.Join(ls, "\n"))
		} else {
			for _, l := range ls {
				e.out.Println(l)
			}
		}
		if e.lines.Pending() {
			e.flushC = time.After(partialLineDelay)
		}
	case control.EventChatEnding:
		// The peer closed its side, or pi2pid must end the chat: send
		// nothing more; what was sent still goes out first.
		if e.phase == phChat {
			e.endChat(false)
		}
	case control.EventChatEnd:
		if e.phase == phChat || e.phase == phEnding || e.phase == phConnecting {
			e.chatEnded(eventWords(ev))
		}
	case control.EventState:
		if ev.State != control.StateReadingPasscode {
			e.stopKeys() // passcode entry ended; its login event follows
		}
	case control.EventLoggedOut:
		e.onLoggedOut(eventWords(ev))
	}
}

func (e *engine) chatStarted(ev control.Reply) {
	e.started = true
	e.peer = ev.Peer
	// On a terminal each line received shows as "bianca> ...", so that no
	// peer line passes for one of ours. A script (neither stdin nor
	// stdout a terminal, e.g. `pi2pictl wait > file`) gets the text as
	// the peer sent it, cleaned, without the label (README "Decisions").
	e.lines.Peer = ""
	if e.rl != nil || isTerminalWriter(e.inv.Env.Stdout) {
		e.lines.Peer = ev.Peer
	}
	if e.rl != nil {
		e.lines.Width = readline.GetScreenWidth
	}
	e.recent.add(ev.Peer)
	if ev.Direction == control.Incoming {
		if e.rl != nil && e.phase == phDest {
			// Keep the prompt the chat interrupted on screen, as in the
			// course transcript (docs/design.md); what was half typed there is dropped.
			e.out.Println(strings.TrimRight(promptDest, " "))
			e.out.Do(func() { e.rl.Operation.SetBuffer("") })
		}
		e.out.Println(fmt.Sprintf(lineReceivedFmt, peertext.Clean(ev.Peer)))
	} else {
		e.out.Println(lineEstablished)
	}
	if ev.SafetyCode != "" {
		e.out.Println(fmt.Sprintf("Safety code: %s (compare it with %s by voice)", peertext.Clean(ev.SafetyCode), peertext.Clean(ev.Peer)))
	}
	for _, w := range keyWarnings(ev) {
		e.out.Errorln(w)
	}
	e.chatOpen = true
	e.setPhase(phChat)
	if e.stdin == nil && (e.flow == flowChat || e.flow == flowWait) {
		var buffered []byte
		if pl, ok := e.in.(*pipeLines); ok {
			buffered, _ = pl.r.Peek(pl.r.Buffered())
		}
		e.pump = newPump(e.client, e.inv.Env.Stdin, buffered)
		e.pump.listenOnEmpty = e.flow == flowWait
		go e.pump.run()
	}
	if e.endOnStart {
		e.endChat(false)
	}
}

func (e *engine) pumpEOF() <-chan bool {
	if e.pump == nil {
		return nil
	}
	return e.pump.eof
}

func (e *engine) pumpFailed() <-chan error {
	if e.pump == nil {
		return nil
	}
	return e.pump.failed
}

// onPumpEOF: stdin ended. The pump ends the chat after what it sent,
// unless it only listens (see pump.listenOnEmpty).
func (e *engine) onPumpEOF(listening bool) {
	if !listening && e.phase == phChat {
		e.setPhase(phEnding)
	}
}

// endChat asks the daemon to end the chat once everything typed is sent.
func (e *engine) endChat(quit bool) {
	if quit {
		e.quitAfterEnd = true
	}
	if e.phase != phChat {
		return
	}
	e.setPhase(phEnding)
	if e.pump != nil {
		e.pump.stop() // the pump sends OpEnd after what it read
		return
	}
	if e.sending {
		e.endPending = true // after the line being sent
		return
	}
	// The lines typed were sent before this request: pi2pid writes them
	// first. The end comes as EventChatEnd once the peer closed too,
	// however long a slow peer takes to read what was sent.
	e.call(control.OpEnd, control.Request{Op: control.OpEnd})
}

// sendLines sends the lines typed in a chat, one at a time.
func (e *engine) sendLines() {
	for text := range e.sendQ {
		e.sendDone <- e.client.Send(control.Request{Op: control.OpSend, Text: text})
	}
}

// lineSent: the line being sent has gone to pi2pid.
func (e *engine) lineSent(err error) {
	e.sending = false
	if err != nil {
		e.fail(explain(err, e.inv.Socket))
		return
	}
	if e.endPending {
		e.endPending = false
		if e.phase == phEnding {
			e.call(control.OpEnd, control.Request{Op: control.OpEnd})
		}
	}
}

func (e *engine) chatEnded(why string) {
	e.flushC = nil
	e.endPending = false
	if s, ok := e.lines.Flush(); ok {
		e.out.Println(s)
	}
	connecting := e.phase == phConnecting
	if connecting && why == "" {
		why = "the chat ended before it started"
	}
	if e.chatOpen {
		e.out.Println(lineEnded)
	}
	e.chatOpen = false
	if why != "" {
		e.out.Errorln(peertext.Clean(why))
	}
	e.started = false
	if e.flow != flowShell || e.quitAfterEnd {
		e.setPhase(phEnded)
		if why != "" {
			e.finish(errReported)
		} else {
			e.finish(nil)
		}
		return
	}
	if e.rl != nil && e.reading {
		// A half-typed message is no destination: drop it.
		e.out.Do(func() { e.rl.Operation.SetBuffer("") })
	}
	e.enterDest()
}

func (e *engine) onLoggedOut(why string) {
	if e.loggingIn() {
		e.stopKeys() // passcode entry ended; its login event follows
		return
	}
	if e.phase == phLogin {
		return
	}
	if e.chatOpen {
		e.out.Println(lineEnded)
		e.chatOpen = false
	}
	msg := "Logged out"
	if why != "" {
		msg += ": " + peertext.Clean(why)
	}
	e.out.Errorln(msg)
	if e.flow != flowShell {
		e.finish(errReported)
		return
	}
	e.started = false
	e.setPhase(phLogin)
}

func (e *engine) onInterrupt() {
	switch e.phase {
	case phChat:
		e.endChat(false)
	case phConnecting:
		e.endOnStart = true
		if e.flow != flowShell {
			e.quitAfterEnd = true
		}
	case phLoggingIn, phPasscode, phVerifying:
		// A signal (kill -INT, SIGTERM) is no key: the passcode reader
		// would wait on, and take the next prompt's first key.
		e.stopKeys()
		if e.cancelling {
			return // asked already; pi2pid's login event ends the attempt
		}
		if e.keypad == control.KeypadConsole {
			_ = e.client.Send(control.Request{Op: control.OpKey, Key: passcode.Cancel})
		} else {
			_ = e.client.Send(control.Request{Op: control.OpLogout})
		}
		// pi2pid's login event ends the attempt: cancelled, or its
		// outcome when the passcode was already being checked.
		e.awaitCancel("")
	case phEnding:
		e.finish(errReported)
	default:
		e.finish(errReported)
	}
}
