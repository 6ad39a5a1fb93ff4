package cli

import (
	"strings"
	"testing"
	"time"

	"github.com/pi2pi/pi2pi/ctl/passcode"
	"github.com/pi2pi/pi2pi/ctl/screen"
	"github.com/pi2pi/pi2pi/ctl/tty"
	"github.com/pi2pi/pi2pi/daemon/backend/backendtest"
	"github.com/pi2pi/pi2pi/internal/control"
	"github.com/pi2pi/pi2pi/internal/testbin"
)

// Steps of a login as the engine may see them: pi2pid answers a login
// request (the result) and announces that its keypad listens (the
// "passcode" event) and the state "reading-passcode" (which announces
// nothing), and pi2pictl reads the passcode line and sends it as keys. The
// result and the events reach the engine on two channels, so in any order,
// and the passcode line may be typed ahead of them all.
const (
	stepResult   = "result"        // the login request's OK result
	stepPasscode = "passcode"      // the "passcode" event: the keypad listens
	stepState    = "state"         // the "reading-passcode" state event
	stepLine     = "passcode-line" // the passcode line is read and sent
)

// announcementOrders lists every order of a login's answers, with the
// passcode line read after the first announcement or later.
func announcementOrders() [][]string {
	var orders [][]string
	var permute func(done, left []string)
	permute = func(done, left []string) {
		if len(left) == 0 {
			for held := len(done); held >= 1 && !noneAnnounces(done[:held]); held-- {
				o := append(append([]string{}, done[:held]...), stepLine)
				orders = append(orders, append(o, done[held:]...))
			}
			return
		}
		for i := range left {
			rest := append(append([]string{}, left[:i]...), left[i+1:]...)
			permute(append(append([]string{}, done...), left[i]), rest)
		}
	}
	permute(nil, []string{stepResult, stepPasscode})
	permute(nil, []string{stepResult, stepPasscode, stepState})
	return orders
}

// noneAnnounces reports whether no step announces passcode entry.
func noneAnnounces(steps []string) bool {
	for _, s := range steps {
		if s == stepPasscode {
			return false
		}
	}
	return true
}

// TestLoginPasscodeStartsOnce feeds the engine's step function directly, in
// every order of a login's answers and the passcode line, so that no
// scheduling can hide a wrong start: the state event starts nothing, and
// once the passcode line was sent no announcement may ask for another.
func TestLoginPasscodeStartsOnce(t *testing.T) {
	for _, order := range announcementOrders() {
		t.Run(strings.Join(order, ","), func(t *testing.T) {
			d := daemon(t, backendtest.Options{})
			var stdout, stderr testbin.Buffer
			e := newLoginEngine(t, d, &stdout, &stderr)
			e.login()
			select { // the daemon is reading a passcode from now on
			case r := <-e.results:
				if r.err != nil {
					t.Fatal(r.err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("no login result")
			}
			// pi2pid's keypad listens; its own answers are played below
			// in every order.
			for listens := false; !listens; {
				select {
				case ev := <-e.client.Events():
					listens = ev.Event == control.EventPasscode
				case <-time.After(10 * time.Second):
					t.Fatal("pi2pid's keypad never listened")
				}
			}
			started, sent := false, false
			for _, step := range order {
				switch step {
				case stepLine:
					if !e.wantLine() {
						t.Fatalf("phase %d: not reading the passcode line", e.phase)
					}
					e.step(input{kind: inLine, line: "1234"})
					sent = true
				case stepResult:
					e.step(resultInput(result{op: control.OpLogin, rep: control.Reply{Type: control.TypeResult, OK: true, UserID: "ali"}}))
				case stepPasscode:
					e.step(eventInput(control.Reply{Type: control.TypeEvent, Event: control.EventPasscode, Keypad: control.KeypadConsole, UserID: "ali"}))
					started = true
				case stepState:
					e.step(eventInput(control.Reply{Type: control.TypeEvent, Event: control.EventState, State: "reading-passcode", UserID: "ali"}))
				}
				want := phLoggingIn
				switch {
				case sent:
					want = phVerifying
				case started:
					want = phPasscode
				}
				if e.phase != want || e.wantLine() != (want == phPasscode) {
					t.Fatalf("after %s: phase %d (wants a line: %v), want phase %d", step, e.phase, e.wantLine(), want)
				}
				if e.done {
					t.Fatalf("after %s: the login ended: %v; stderr %q", step, e.exit, stderr.String())
				}
			}
			select {
			case err := <-e.passDone:
				e.step(input{kind: inKeysDone, err: err})
			case <-time.After(10 * time.Second):
				t.Fatal("the passcode was not sent")
			}
			if e.phase != phVerifying || e.done {
				t.Fatalf("after sending the keys: phase %d, done %v", e.phase, e.done)
			}
			var pressed []string
			for range 5 {
				pressed = append(pressed, string(d.NextKey(t)))
			}
			if got := strings.Join(pressed, ","); got != "1,2,3,4,enter" {
				t.Fatalf("keys = %s", got)
			}
			e.out.Flush()
			if n := strings.Count(stdout.String(), linePasscode); n != 1 {
				t.Fatalf("%q printed %d times; stdout %q", linePasscode, n, stdout.String())
			}
		})
	}
}

// newLoginEngine is the engine of `pi2pictl login ali` with stdin a pipe,
// connected to d, before its loop runs.
func newLoginEngine(t *testing.T, d *backendtest.Terminal, stdout, stderr *testbin.Buffer) *engine {
	t.Helper()
	inv := &Invocation{Env: &Env{Stdin: strings.NewReader(""), Stdout: stdout, Stderr: stderr}, Socket: d.Socket}
	c, err := inv.Client(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	out := screen.New(&screen.Plain{Stdout: stdout, Stderr: stderr})
	t.Cleanup(out.Close)
	return &engine{
		transcript: transcript{flow: flowLogin, user: "ali", keypad: "console", phase: phLogin},
		inv:        inv, client: c, out: out, in: newPipeLines(inv.Env.Stdin), recent: &recentUsers{},
		results: make(chan result, 8), readReq: make(chan struct{}), linesCh: make(chan lineResult, 1),
		keyReader: keyReader{passDone: make(chan error, 1)},
	}
}

func TestLoginAsSomeoneElseWhenLoggedIn(t *testing.T) {
	d := logIn(t, daemon(t, backendtest.Options{}), "ali")
	out, errOut, code := pipeRun(t, d, "", "login", "bianca")
	if code != 1 || out != "" || !strings.Contains(errOut, "pi2pid is logged in as ali; run `pi2pictl logout` first") {
		t.Fatalf("exit %d\nstdout %q\nstderr %q", code, out, errOut)
	}
	for _, user := range []string{"ali", "Ali"} {
		out, errOut, code = pipeRun(t, d, "", "login", user)
		if code != 0 || out != "Already logged in as ali.\n" {
			t.Fatalf("login %s: exit %d\nstdout %q\nstderr %q", user, code, out, errOut)
		}
	}
}

// A cancelled passcode entry ends when pi2pid says so, not when the Cancel
// key was taken: pi2pid ends it later, and its "cancelled" login event
// then ended the next login attempt instead (seen as "Login cancelled."
// right after a user ID typed at the shell's second Login: prompt).
func TestLoginCancelWaitsForThePasscodeEntryToEnd(t *testing.T) {
	d := daemon(t, backendtest.Options{})
	var stdout, stderr testbin.Buffer
	e := newLoginEngine(t, d, &stdout, &stderr)
	e.flow = flowShell
	e.login()
	e.step(eventInput(control.Reply{Type: control.TypeEvent, Event: control.EventPasscode, Keypad: control.KeypadConsole, UserID: "ali"}))
	if e.phase != phPasscode {
		t.Fatalf("phase %d, want the passcode being entered", e.phase)
	}
	// The passcode reader pressed Cancel, and pi2pid took the key.
	e.step(input{kind: inKeysDone, err: passcode.ErrCancelled})
	e.out.Flush()
	if e.phase != phVerifying || strings.Contains(stderr.String(), "Login cancelled.") {
		t.Fatalf("before pi2pid's login event: phase %d, stderr %q", e.phase, stderr.String())
	}
	e.step(eventInput(control.Reply{Type: control.TypeEvent, Event: control.EventLogin, UserID: "ali", Code: control.CodeCancelled}))
	e.out.Flush()
	if e.phase != phLogin || strings.Count(stderr.String(), "Login cancelled.") != 1 {
		t.Fatalf("after pi2pid's login event: phase %d, stderr %q", e.phase, stderr.String())
	}
}

// The shell on a pipe: a passcode line that is no passcode cancels the
// entry, and the next login goes ahead once pi2pid has ended it.
func TestShellLoginAgainAfterCancel(t *testing.T) {
	d := daemon(t, backendtest.Options{})
	out, errOut, code := pipeRun(t, d, "ali\n12x4\nali\n1234\n")
	if code != 0 || !strings.Contains(out, "Logged in.") {
		t.Fatalf("exit %d\nstdout %q\nstderr %q", code, out, errOut)
	}
	if want := "Login failed: a passcode is keypad digits 0-9 only.\n"; errOut != want {
		t.Fatalf("stderr %q, want %q", errOut, want)
	}
	keysAre(t, d, "cancel,1,2,3,4,enter")
}

// CTRL-C while pi2pid is still starting passcode entry: its keypad does
// not listen yet and refuses the Cancel key, so pi2pictl presses it again
// once passcode entry is announced, and the attempt ends with pi2pid's
// login event.
func TestLoginInterruptBeforeTheKeypadListens(t *testing.T) {
	d := daemon(t, backendtest.Options{HoldKeypad: true})
	var stdout, stderr testbin.Buffer
	e := newLoginEngine(t, d, &stdout, &stderr)
	e.flow = flowShell
	e.login()
	select {
	case r := <-e.results:
		e.step(resultInput(r))
	case <-time.After(10 * time.Second):
		t.Fatal("no login result")
	}
	e.step(input{kind: inSignal})
	if e.phase != phVerifying || e.done {
		t.Fatalf("after CTRL-C: phase %d, done %v", e.phase, e.done)
	}
	// A request after the Cancel key: once answered, the key was refused.
	if _, err := e.status(); err != nil {
		t.Fatal(err)
	}
	d.ReleaseKeypad() // pi2pid's keypad listens now
	// nextEvent hands the engine pi2pid's events up to the named one
	// (state events, which announce nothing), and returns that one.
	nextEvent := func(name control.Event) control.Reply {
		t.Helper()
		for {
			select {
			case ev := <-e.client.Events():
				if ev.Event == name {
					return ev
				}
				if ev.Event != control.EventState {
					t.Fatalf("event %q, want %q", ev.Event, name)
				}
				e.step(eventInput(ev))
			case <-time.After(10 * time.Second):
				t.Fatalf("no %q event", name)
			}
		}
	}
	e.step(eventInput(nextEvent(control.EventPasscode)))
	if e.phase != phVerifying {
		t.Fatalf("the announcement after CTRL-C moved to phase %d", e.phase)
	}
	if k := d.NextKey(t); k != control.KeyCancel {
		t.Fatalf("key %s, want cancel", k)
	}
	e.step(eventInput(nextEvent(control.EventLogin)))
	e.out.Flush()
	if e.phase != phLogin || strings.Count(stderr.String(), "Login cancelled.") != 1 {
		t.Fatalf("after pi2pid's login event: phase %d, stderr %q", e.phase, stderr.String())
	}
	if strings.Contains(stdout.String(), linePasscode) {
		t.Fatalf("passcode entry started after CTRL-C: %q", stdout.String())
	}
}

// stopCounter is a passcode reader's input that counts its stops.
type stopCounter struct{ n int }

func (s *stopCounter) Stop() { s.n++ }

// Passcode entry can end without a key from this terminal: the passcode
// reader, waiting for a key, must then be stopped, and the shell goes on
// once it has stopped (readline must not share the terminal with it).
func TestPasscodeReaderStopsWhenEntryEnds(t *testing.T) {
	timedOut := "passcode entry ended: keypad: passcode entry timed out: no key was pressed for too long"
	tests := []struct {
		name      string
		end       func(e *engine) // what ends (or not) passcode entry
		stop      bool            // the reader is stopped
		readerErr error           // what the stopped reader reports
		login     *control.Reply  // pi2pid's login event after that, if any
		phase     phase           // the phase in the end
		stderr    string          // what the person is told
		stdout    string
	}{
		{
			name:  "state event: entry ended, the login event says how",
			end:   stateEvent("logged-out"),
			stop:  true,
			login: &control.Reply{Code: control.CodeTimedOut, Error: timedOut},
			phase: phLogin, stderr: "Login timed out: no key was pressed on the keypad for too long.\n",
		},
		{
			name:  "state event: another client pressed Enter",
			end:   stateEvent("authenticating"),
			stop:  true,
			login: &control.Reply{OK: true, UserID: "ali"},
			phase: phDest, stdout: lineLoggedIn + "\n",
		},
		{
			name:  "state event: still reading",
			end:   stateEvent("reading-passcode"),
			phase: phPasscode,
		},
		{
			name: "login event: timed out",
			end: func(e *engine) {
				e.step(eventInput(control.Reply{Type: control.TypeEvent, Event: control.EventLogin, UserID: "ali", Code: control.CodeTimedOut, Error: timedOut}))
			},
			stop:  true,
			phase: phLogin, stderr: "Login timed out: no key was pressed on the keypad for too long.\n",
		},
		{
			name: "login event: cancelled by another client's logout",
			end: func(e *engine) {
				e.step(eventInput(control.Reply{Type: control.TypeEvent, Event: control.EventLogin, UserID: "ali", Code: control.CodeCancelled, Error: "passcode entry cancelled"}))
			},
			stop: true,
			// The reader's key came too late and was refused: still
			// no more than the stop.
			readerErr: &control.Error{Code: control.CodeNoEntry},
			phase:     phLogin, stderr: "Login cancelled.\n",
		},
		{
			name: "logged-out event",
			end: func(e *engine) {
				e.step(eventInput(control.Reply{Type: control.TypeEvent, Event: control.EventLoggedOut}))
			},
			stop:  true,
			login: &control.Reply{Code: control.CodeCancelled, Error: "passcode entry cancelled"},
			phase: phLogin, stderr: "Login cancelled.\n",
		},
		{
			name:  "SIGINT",
			end:   func(e *engine) { e.step(input{kind: inSignal}) },
			stop:  true,
			login: &control.Reply{Code: control.CodeCancelled, Error: "passcode entry cancelled"},
			phase: phLogin, stderr: "Login cancelled.\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := daemon(t, backendtest.Options{})
			var stdout, stderr testbin.Buffer
			e := newLoginEngine(t, d, &stdout, &stderr)
			e.flow = flowShell
			e.login()
			e.step(eventInput(control.Reply{Type: control.TypeEvent, Event: control.EventPasscode, Keypad: control.KeypadConsole, UserID: "ali"}))
			if e.phase != phPasscode {
				t.Fatalf("phase %d, want the passcode being entered", e.phase)
			}
			e.out.Flush()
			skip := len(stdout.String())
			// The passcode reader waits for a key on the terminal.
			reader := &stopCounter{}
			e.keysBusy, e.keys = true, reader
			tt.end(e)
			tt.end(e) // said twice, still one stop
			if stopped := reader.n > 0; stopped != tt.stop || reader.n > 1 {
				t.Fatalf("reader stopped %d times, want stopped: %v", reader.n, tt.stop)
			}
			if !tt.stop {
				if e.phase != tt.phase || !e.keysBusy {
					t.Fatalf("phase %d, reader busy %v", e.phase, e.keysBusy)
				}
				return
			}
			if e.wantLine() {
				t.Fatal("a line is read while the passcode reader has the terminal")
			}
			err := tt.readerErr
			if err == nil {
				err = tty.ErrStopped
			}
			e.step(input{kind: inKeysDone, err: err})
			if e.keysBusy || e.keys != nil {
				t.Fatal("the reader ended, but the engine still counts it")
			}
			if tt.login != nil {
				if e.phase != phVerifying {
					t.Fatalf("before pi2pid's login event: phase %d", e.phase)
				}
				ev := *tt.login
				ev.Type, ev.Event = control.TypeEvent, control.EventLogin
				e.step(eventInput(ev))
			}
			e.out.Flush()
			if e.phase != tt.phase || e.done {
				t.Fatalf("phase %d (done %v), want %d; stderr %q", e.phase, e.done, tt.phase, stderr.String())
			}
			if stderr.String() != tt.stderr || !strings.HasPrefix(stdout.String()[skip:], tt.stdout) {
				t.Fatalf("stdout %q, stderr %q; want %q, %q", stdout.String()[skip:], stderr.String(), tt.stdout, tt.stderr)
			}
			if tt.phase == phLogin && !e.wantLine() {
				t.Fatal("back at Login:, but no line is read")
			}
		})
	}
}

func stateEvent(state control.State) func(e *engine) {
	return func(e *engine) {
		e.step(eventInput(control.Reply{Type: control.TypeEvent, Event: control.EventState, State: state, UserID: "ali"}))
	}
}
