//go:build !linux

package keypad

import "errors"

var errNotLinux = errors.New("keypad: GPIO keypads need Linux on a Raspberry Pi: use --keypad console")

func newRpioPins(Config) (Pins, error) { return nil, errNotLinux }
func newCdevPins(Config) (Pins, error) { return nil, errNotLinux }
