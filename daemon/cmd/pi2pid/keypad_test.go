package main

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/pi2pi/pi2pi/daemon/config"
	"github.com/pi2pi/pi2pi/daemon/keypad"
	"github.com/pi2pi/pi2pi/internal/control"
)

// The keypad kinds pi2pid takes are the control API's.
func TestKeypadKindsAreTheControlAPIs(t *testing.T) {
	api := []control.Keypad{control.KeypadConsole, control.KeypadRPIO, control.KeypadGPIOCdev, control.KeypadNone}
	for _, k := range keypad.Kinds {
		if !slices.Contains(api, control.Keypad(k)) {
			t.Errorf("keypad kind %q is not in the control API", k)
		}
	}
	if len(api) != len(keypad.Kinds) {
		t.Errorf("the control API has %d keypad kinds, pi2pid %d", len(api), len(keypad.Kinds))
	}
}

// What pi2pictl sends (digits and meanings) edits and ends a passcode
// under every key map, built-in or custom; letters are refused.
func TestConsoleMeaningsUnderEveryMap(t *testing.T) {
	for _, m := range []string{"default", "legacy-hex", "enter=#,backspace=*,cancel=D", "enter=D,backspace=none,cancel=none"} {
		a, err := openKeypad(&config.Config{Keypad: "console", KeypadMap: m, PasscodeTimeout: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			keys    []control.Key
			want    string
			wantErr error
		}{
			{[]control.Key{"1", "2", control.KeyBackspace, "3", control.KeyEnter}, "13", nil},
			{[]control.Key{"1", control.KeyCancel}, "", keypad.ErrCancelled},
		} {
			type result struct {
				d   []byte
				err error
			}
			done := make(chan result, 1)
			started := make(chan struct{})
			go func() {
				d, err := a.ReadPasscode(context.Background(), func() { close(started) })
				done <- result{d, err}
			}()
			<-started
			for _, k := range tc.keys {
				if err := a.Press(k); err != nil {
					t.Fatalf("map %s: Press(%q): %v", m, k, err)
				}
			}
			r := <-done
			if string(r.d) != tc.want || r.err != tc.wantErr {
				t.Errorf("map %s: keys %q gave %q, %v; want %q, %v", m, tc.keys, r.d, r.err, tc.want, tc.wantErr)
			}
		}
		for _, letter := range []control.Key{"A", "F", "#", "a", ""} {
			if err := a.Press(letter); err == nil {
				t.Errorf("map %s: the console took the letter %q; it takes meanings", m, letter)
			}
		}
	}
}
