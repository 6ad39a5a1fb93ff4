package keypad

import (
	"context"
	"errors"
	"time"

	"github.com/pi2pi/pi2pi/internal/wire"
)

// DefaultPasscodeTimeout is the ReadPasscode timeout used when none is given.
const DefaultPasscodeTimeout = 30 * time.Second

// Errors from ReadPasscode.
var (
	ErrCancelled = errors.New("keypad: passcode entry cancelled")
	ErrTimeout   = errors.New("keypad: passcode entry timed out: no key was pressed for too long")
	ErrTooLong   = errors.New("keypad: passcode has too many digits")
	ErrEmpty     = errors.New("keypad: no digits entered before enter")
	ErrClosed    = errors.New("keypad: the keypad went away during passcode entry")
)

// ReadPasscode starts src, collects digits until the Enter key of m, and
// stops src again. Backspace removes the last digit (nothing when there is
// none); Cancel abandons the entry with ErrCancelled. The meaning keys
// (Enter, Backspace, Cancel) do the same under any m. Keys that are neither
// digits nor in m are ignored. A 33rd digit (more than wire.MaxPasscode) ends
// the entry with ErrTooLong, and Enter with no digits with ErrEmpty. When no
// key is pressed for timeout (DefaultPasscodeTimeout when zero or less,
// measured with clk, RealClock when nil) the entry ends with ErrTimeout; when
// ctx ends, with ctx.Err(). A zero m means DefaultMap.
//
// The digits are returned as ASCII '0'-'9'; the caller zeroes the slice after
// use. ReadPasscode zeroes its own buffer and never logs a key.
func ReadPasscode(ctx context.Context, src Source, m Map, timeout time.Duration, clk Clock) ([]byte, error) {
	if m == (Map{}) {
		m = DefaultMap
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	if timeout <= 0 {
		timeout = DefaultPasscodeTimeout
	}
	if clk == nil {
		clk = RealClock
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := src.Start(); err != nil {
		return nil, err
	}
	defer src.Stop()

	var buf [wire.MaxPasscode]byte
	n := 0
	defer clear(buf[:])

	t := clk.NewTimer(timeout)
	defer t.Stop()
	keys := src.Keys()
	for {
		var k Key
		var ok bool
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-t.C():
			return nil, ErrTimeout
		case k, ok = <-keys:
			if !ok {
				return nil, ErrClosed
			}
		}
		switch {
		case k.IsDigit():
			if n == len(buf) {
				return nil, ErrTooLong
			}
			buf[n] = byte(k)
			n++
		case k == m.Enter || k == Enter:
			if n == 0 {
				return nil, ErrEmpty
			}
			return append([]byte(nil), buf[:n]...), nil
		case k == m.Backspace && k != 0 || k == Backspace:
			if n > 0 {
				n--
				buf[n] = 0
			}
		case k == m.Cancel && k != 0 || k == Cancel:
			return nil, ErrCancelled
		}
		k = 0
		if !t.Stop() {
			select {
			case <-t.C():
			default:
			}
		}
		t.Reset(timeout)
	}
}
