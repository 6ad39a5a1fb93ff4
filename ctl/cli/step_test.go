package cli

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/pi2pi/pi2pi/ctl/passcode"
	"github.com/pi2pi/pi2pi/ctl/screen"
	"github.com/pi2pi/pi2pi/ctl/tty"
	"github.com/pi2pi/pi2pi/daemon/backend/backendtest"
	"github.com/pi2pi/pi2pi/internal/control"
	"github.com/pi2pi/pi2pi/internal/testbin"
)

// stepSamples are inputs of every kind, some in several shapes.
func stepSamples() []input {
	ev := func(e control.Event, f func(*control.Reply)) input {
		r := control.Reply{Type: control.TypeEvent, Event: e, UserID: "ali"}
		if f != nil {
			f(&r)
		}
		return eventInput(r)
	}
	res := func(op control.Op, err error, f func(*control.Reply)) input {
		r := control.Reply{Type: control.TypeResult, OK: err == nil}
		if f != nil {
			f(&r)
		}
		return resultInput(result{op: op, rep: r, err: err})
	}
	refused := func(code control.Code) error { return &control.Error{Code: code} }
	chatStart := func(dir control.Direction) func(*control.Reply) {
		return func(r *control.Reply) { r.Peer, r.Direction, r.SafetyCode = "bianca", dir, "12345" }
	}
	return []input{
		{kind: inStatus, status: &control.Status{State: control.StateLoggedIn, UserID: "ali", Keypad: control.KeypadConsole}},
		{kind: inStatus, status: &control.Status{State: control.StateLoggedOut, Keypad: control.KeypadConsole}},
		{kind: inLine, line: "bianca"},
		{kind: inLine, line: "1234"},
		{kind: inLine, line: ""},
		{kind: inLine, line: "/chat bianca"},
		{kind: inLine, line: "/quit"},
		{kind: inLineInterrupt},
		{kind: inEOF},
		{kind: inSignal},
		{kind: inEventsClosed},
		ev(control.EventPasscode, func(r *control.Reply) { r.Keypad = control.KeypadConsole }),
		ev(control.EventPasscode, func(r *control.Reply) { r.Keypad = control.KeypadRPIO }),
		ev(control.EventLogin, func(r *control.Reply) { r.OK, r.FailedAttempts = true, 2 }),
		ev(control.EventLogin, func(r *control.Reply) { r.Code = control.CodeCancelled }),
		ev(control.EventLogin, func(r *control.Reply) { r.Code, r.Error = control.CodeTimedOut, "timed out" }),
		ev(control.EventState, func(r *control.Reply) { r.State = control.StateReadingPasscode }),
		ev(control.EventState, func(r *control.Reply) { r.State = control.StateLoggedOut }),
		ev(control.EventLoggedOut, nil),
		ev(control.EventChatStart, chatStart(control.Incoming)),
		ev(control.EventChatStart, chatStart(control.Outgoing)),
		ev(control.EventChatEnding, nil),
		ev(control.EventChatEnd, nil),
		ev(control.EventChatEnd, func(r *control.Reply) { r.Error = "bianca's terminal stopped" }),
		ev("no-such-event", nil),
		res(control.OpLogin, nil, func(r *control.Reply) { r.Keypad = control.KeypadConsole }),
		res(control.OpLogin, nil, nil),
		res(control.OpLogin, refused(control.CodeLoggedIn), nil),
		res(control.OpLogin, refused(control.CodeNoEntry), nil),
		res(control.OpChat, nil, func(r *control.Reply) { r.Peer = "bianca" }),
		res(control.OpChat, refused(control.CodeNotFound), nil),
		res(control.OpWait, nil, nil),
		res(control.OpWait, refused(control.CodeNotLoggedIn), nil),
		{kind: inStreamData, data: []byte("hello\n")},
		{kind: inStreamEnd},
		{kind: inLineSent},
		{kind: inPumpEOF},
		{kind: inPumpEOF, listening: true},
		{kind: inKeysDone},
		{kind: inKeysDone, err: tty.ErrStopped},
		{kind: inKeysDone, err: passcode.ErrCancelled},
		{kind: inKeysDone, err: refused(control.CodeCancelled)},
		{kind: inKeysDone, err: errors.New("the terminal went away")},
		{kind: inFlush},
		{kind: inCancelTimeout},
	}
}

// inPhase puts e in phase p with what that phase remembers; busy adds
// the flags a phase may carry (a cancel asked for, an interrupt while
// connecting, a line being written).
func inPhase(e *engine, p phase, busy bool) {
	e.phase, e.user, e.peer = p, "ali", "bianca"
	switch p {
	case phPasscode, phVerifying:
		e.passcodeStarted = true
	case phChat, phEnding:
		e.started, e.chatOpen = true, true
	}
	if busy {
		e.cancelling = e.loggingIn()
		// endOnStart outlives a refused chat request: the next
		// incoming chat at the prompt ends at once.
		e.endOnStart = p == phConnecting || p == phDest || p == phWaiting
		e.quitAfterEnd = p == phConnecting
		e.sending, e.endPending = p == phChat || p == phEnding, p == phEnding
	}
}

// TestStepEveryPhaseAndInput drives step over every phase, flow and kind
// of input, with the real engine connected to pi2pid's core, and checks
// that it neither panics nor moves to a phase the table transitions does
// not list; and that every move the table lists is made by some input, so
// that the table says no more than step does.
func TestStepEveryPhaseAndInput(t *testing.T) {
	samples := stepSamples()
	for k := range numInputKinds {
		if !slices.ContainsFunc(samples, func(in input) bool { return in.kind == k }) {
			t.Fatalf("no sample of input kind %d", k)
		}
	}
	d := logIn(t, daemon(t, backendtest.Options{}), "ali")
	seen := map[[2]phase]bool{}
	for f := range flowWait + 1 {
		for p := range numPhases {
			for _, busy := range []bool{false, true} {
				t.Run(fmt.Sprintf("flow%d/%s/busy=%v", f, p, busy), func(t *testing.T) {
					stepAll(t, d, f, p, busy, samples, seen)
				})
			}
		}
	}
	for p, to := range transitions {
		for _, q := range to {
			if !seen[[2]phase{phase(p), q}] {
				t.Errorf("transitions lists %s → %s, which no input made", phase(p), q)
			}
		}
	}
}

func stepAll(t *testing.T, d *backendtest.Terminal, f flow, p phase, busy bool, samples []input, seen map[[2]phase]bool) {
	var stdout, stderr testbin.Buffer
	inv := &Invocation{Env: &Env{Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr}, Socket: d.Socket}
	c, err := inv.Client(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	out := screen.New(&screen.Plain{Stdout: &stdout, Stderr: &stderr})
	defer out.Close()
	for _, in := range samples {
		e := &engine{
			transcript: transcript{flow: f, keypad: control.KeypadConsole},
			inv:        inv, client: c, out: out, in: newPipeLines(inv.Env.Stdin), recent: &recentUsers{},
			results: make(chan result, 8), readReq: make(chan struct{}), linesCh: make(chan lineResult, 1),
			keyReader: keyReader{passDone: make(chan error, 1)},
			chatIO:    chatIO{sendQ: make(chan writeItem), sendDone: make(chan error, 1)},
		}
		inPhase(e, p, busy)
		e.step(in)
		seen[[2]phase{p, e.phase}] = true
		if !slices.Contains(transitions[p], e.phase) {
			t.Errorf("%s (line %q, event %s, error %v): phase %s → %s, not in transitions",
				in.kind, in.line, in.ev.Event, in.res.err, p, e.phase)
		}
		if e.done && e.exit == nil && in.kind == inEventsClosed {
			t.Errorf("the connection lost, yet exit 0")
		}
		if e.stream != nil {
			e.stream.close()
		}
		if e.pump != nil {
			e.pump.stop()
		}
	}
}
