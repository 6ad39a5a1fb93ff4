package main

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/pi2pi/pi2pi/daemon/backend"
	"github.com/pi2pi/pi2pi/daemon/config"
	"github.com/pi2pi/pi2pi/daemon/keypad"
)

// openKeypad opens the keypad cfg names, under its key map, as the
// terminal's passcode entry.
func openKeypad(cfg *config.Config) (backend.Keypad, error) {
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
	return backend.NewKeypad(src, m, cfg.PasscodeTimeout), nil
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
