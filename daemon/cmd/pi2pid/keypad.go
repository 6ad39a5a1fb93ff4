package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/pi2pi/pi2pi/daemon/backend"
	"github.com/pi2pi/pi2pi/daemon/config"
	"github.com/pi2pi/pi2pi/daemon/keypad"
	"github.com/pi2pi/pi2pi/internal/control"
)

// keypadAdapter gives the backend the keypad package's passcode entry.
type keypadAdapter struct {
	src     keypad.Source
	console *keypad.Console // nil unless --keypad console
	m       keypad.Map
	timeout time.Duration
}

func openKeypad(cfg *config.Config) (*keypadAdapter, error) {
	m, err := keypad.ParseMap(cfg.KeypadMap)
	if err != nil {
		return nil, err
	}
	kc := keypad.Config{}
	if cfg.KeypadLayout != "" {
		if kc.Layout, err = keypad.ParseLayout(cfg.KeypadLayout); err != nil {
			return nil, err
		}
	}
	if kc.RowPins, err = parsePins("keypad-rows", cfg.KeypadRows); err != nil {
		return nil, err
	}
	if kc.ColPins, err = parsePins("keypad-cols", cfg.KeypadCols); err != nil {
		return nil, err
	}
	src, err := keypad.Open(cfg.Keypad, kc)
	if err != nil {
		return nil, err
	}
	a := &keypadAdapter{src: src, m: m, timeout: cfg.PasscodeTimeout}
	a.console, _ = src.(*keypad.Console)
	return a, nil
}

func parsePins(name, s string) ([]int, error) {
	if s == "" {
		return nil, nil
	}
	var pins []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 0 {
			return nil, fmt.Errorf("%s: %q is not a GPIO number", name, f)
		}
		pins = append(pins, n)
	}
	return pins, nil
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
		return backend.ErrNoConsole
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

// startHook tells the backend when the keypad is really listening, so that
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
