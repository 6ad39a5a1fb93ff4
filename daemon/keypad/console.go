package keypad

import (
	"errors"
	"sync"
)

// Console is a keypad without hardware: pi2pictl reads the keys from its
// own terminal and the daemon feeds in what they mean with Press: digits
// and the meaning keys Enter, Backspace and Cancel, so the key map does not
// matter to it. (It also takes the keys of a hardware keypad, which is how
// tests drive ReadPasscode under each map.) It accepts presses only between
// Start and Stop, i.e. while a passcode is being entered.
type Console struct {
	mu      sync.Mutex
	started bool
	keys    chan Key
}

// NewConsole returns a stopped console keypad.
func NewConsole() *Console {
	return &Console{keys: make(chan Key, keyBuffer)}
}

// Start opens the console keypad for presses.
func (c *Console) Start() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.started {
		return ErrStarted
	}
	drain(c.keys)
	c.started = true
	return nil
}

// Stop closes the console keypad and discards presses nobody read.
func (c *Console) Stop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.started = false
	drain(c.keys)
}

// Keys returns the channel of presses.
func (c *Console) Keys() <-chan Key { return c.keys }

// Kind returns "console".
func (c *Console) Kind() string { return "console" }

// Press feeds one key press: a digit, a meaning key or a keypad key. It fails with
// ErrNotStarted when no passcode entry is running, and with ErrBusy when
// presses pile up unread.
func (c *Console) Press(k Key) error {
	if !k.Valid() && k != Enter && k != Backspace && k != Cancel {
		return errors.New("keypad: not a keypad key: use 0-9, A-F, * or #, or a meaning key")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.started {
		return ErrNotStarted
	}
	select {
	case c.keys <- k:
		return nil
	default:
		return ErrBusy
	}
}
