package keypad

import "errors"

// Source delivers key presses. It scans only between Start and Stop: a
// stopped Source has no goroutine, no timer and holds no GPIO lines, so an
// idle daemon never wakes up for the keypad.
//
// Keys returns the same channel for the life of the Source; it is never
// closed. Start and Stop discard presses left in it, so a key pressed for one
// passcode entry never leaks into the next.
type Source interface {
	Start() error
	Stop()
	Keys() <-chan Key
	Kind() string // "console", "rpio", "gpiocdev", "sim", "none"
}

// Errors from a Source.
var (
	// ErrStarted means Start was called on a Source that is already running.
	ErrStarted = errors.New("keypad: passcode entry is already in progress")
	// ErrNotStarted means a console key was pressed while no passcode entry runs.
	ErrNotStarted = errors.New("keypad: no passcode entry in progress: run pi2pictl login first")
	// ErrBusy means console key presses arrive faster than they are read.
	ErrBusy = errors.New("keypad: too many key presses waiting: slow down")
	// ErrNoKeypad is returned by Start of the "none" keypad.
	ErrNoKeypad = errors.New("keypad: pi2pid runs without a keypad (--keypad none): restart it with --keypad console, rpio or gpiocdev")
)

// keyBuffer is how many presses a Source holds for a slow reader: enough for
// a whole passcode typed ahead plus its Enter.
const keyBuffer = 64

// drain discards whatever waits in ch.
func drain(ch chan Key) {
	for {
		select {
		case <-ch:
		default:
			return
		}
	}
}

// none is the Source of a daemon started without a keypad.
type none struct{ keys chan Key }

func (none) Start() error       { return ErrNoKeypad }
func (none) Stop()              {}
func (n none) Keys() <-chan Key { return n.keys }
func (none) Kind() string       { return "none" }
