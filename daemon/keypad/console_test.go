package keypad_test

import (
	"errors"
	"testing"

	"github.com/pi2pi/pi2pi/daemon/keypad"
)

func TestConsole(t *testing.T) {
	c := keypad.NewConsole()
	if c.Kind() != "console" {
		t.Errorf("Kind = %q", c.Kind())
	}
	if err := c.Press('1'); !errors.Is(err, keypad.ErrNotStarted) {
		t.Errorf("Press before Start = %v, want ErrNotStarted", err)
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	if err := c.Start(); !errors.Is(err, keypad.ErrStarted) {
		t.Errorf("second Start = %v, want ErrStarted", err)
	}
	for _, k := range []keypad.Key{'x', 'a', 0, '\n'} {
		if err := c.Press(k); err == nil {
			t.Errorf("Press(%q) took a key that no keypad has", rune(k))
		}
	}
	for _, k := range []keypad.Key{'4', '2', keypad.Backspace, keypad.Cancel, keypad.Enter} {
		if err := c.Press(k); err != nil {
			t.Fatalf("Press: %v", err)
		}
	}
	for _, want := range []keypad.Key{'4', '2', keypad.Backspace, keypad.Cancel, keypad.Enter} {
		if k := <-c.Keys(); k != want {
			t.Errorf("got key %d, want %d", k, want)
		}
	}

	// Presses pile up to a limit, then fail instead of blocking.
	var err error
	for i := 0; i < 1000 && err == nil; i++ {
		err = c.Press('7')
	}
	if !errors.Is(err, keypad.ErrBusy) {
		t.Errorf("flooding Press = %v, want ErrBusy", err)
	}

	// Stop forgets unread presses; a new entry starts empty.
	c.Stop()
	if err := c.Press('1'); !errors.Is(err, keypad.ErrNotStarted) {
		t.Errorf("Press after Stop = %v, want ErrNotStarted", err)
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	defer c.Stop()
	select {
	case <-c.Keys():
		t.Error("a press from the last entry survived Stop")
	default:
	}
}
