package backend

import (
	"context"
	"fmt"
	"time"

	"github.com/pi2pi/pi2pi/daemon/keypad"
	"github.com/pi2pi/pi2pi/internal/control"
)

// NewKeypad gives a Terminal the passcode entry of daemon/keypad: src
// scanned under key map m (keypad.DefaultMap when zero), an entry ending
// after timeout without a key (keypad.DefaultPasscodeTimeout when zero).
// Console keys are taken only when src is a *keypad.Console.
func NewKeypad(src keypad.Source, m keypad.Map, timeout time.Duration) Keypad {
	a := &keypadAdapter{src: src, m: m, timeout: timeout}
	a.console, _ = src.(*keypad.Console)
	return a
}

// keypadAdapter is the Keypad of NewKeypad.
type keypadAdapter struct {
	src     keypad.Source
	console *keypad.Console // nil unless a console keypad
	m       keypad.Map
	timeout time.Duration
}

func (a *keypadAdapter) Kind() control.Keypad { return control.Keypad(a.src.Kind()) }

func (a *keypadAdapter) ReadPasscode(ctx context.Context, started func()) ([]byte, error) {
	return keypad.ReadPasscode(ctx, startHook{a.src, started}, a.m, a.timeout, keypad.RealClock)
}

// Press feeds what a key pressed in pi2pictl means. The console keypad
// takes meanings, so it works under every key map: the map says which
// letters of a hardware keypad mean Enter, Backspace and Cancel.
func (a *keypadAdapter) Press(key control.Key) error {
	if a.console == nil {
		return ErrNoConsole
	}
	k, ok := consoleKeys[key]
	if !ok && key.IsDigit() {
		k, ok = keypad.Key(key[0]), true
	}
	if !ok {
		return fmt.Errorf("%q is not a key meaning", key)
	}
	return a.console.Press(k)
}

var consoleKeys = map[control.Key]keypad.Key{
	control.KeyEnter: keypad.Enter, control.KeyBackspace: keypad.Backspace, control.KeyCancel: keypad.Cancel,
}

// startHook tells the terminal when the keypad is really listening, so that
// pi2pictl only sends console keys once they can be taken.
type startHook struct {
	keypad.Source
	started func()
}

func (s startHook) Start() error {
	if err := s.Source.Start(); err != nil {
		return err
	}
	if s.started != nil {
		s.started()
	}
	return nil
}
