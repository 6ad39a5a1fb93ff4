package keypadtest

import (
	"fmt"
	"sync"
	"time"

	"github.com/pi2pi/pi2pi/daemon/keypad"
)

// Clock is a keypad.Clock whose time moves only in Advance. Its timers fire
// during Advance, in deadline order; a fired timer's channel holds one value
// like a time.Timer's.
type Clock struct {
	mu     sync.Mutex
	now    time.Time
	timers map[*timer]struct{} // armed timers
	arms   int                 // how many times any timer was armed
}

// NewClock returns a Clock set to a fixed time.
func NewClock() *Clock {
	return &Clock{
		now:    time.Date(2024, 1, 1, 12, 0, 0, 0, time.UTC),
		timers: map[*timer]struct{}{},
	}
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// NewTimer returns an armed timer that fires d after Now.
func (c *Clock) NewTimer(d time.Duration) keypad.Timer {
	t := &timer{c: c, ch: make(chan time.Time, 1)}
	t.Reset(d)
	return t
}

// Advance moves the clock forward by d and fires every timer that falls due,
// each at its own deadline.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	end := c.now.Add(d)
	for {
		var next *timer
		for t := range c.timers {
			if !t.when.After(end) && (next == nil || t.when.Before(next.when)) {
				next = t
			}
		}
		if next == nil {
			break
		}
		delete(c.timers, next)
		if next.when.After(c.now) {
			c.now = next.when
		}
		select {
		case next.ch <- c.now:
		default:
		}
	}
	c.now = end
}

// Armed returns how many timers are waiting to fire.
func (c *Clock) Armed() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.timers)
}

// Arms returns how many times a timer was armed by NewTimer or Reset.
func (c *Clock) Arms() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.arms
}

// WaitArmed waits until exactly n timers are armed. It gives up with an
// error after a few seconds of real time.
func (c *Clock) WaitArmed(n int) error {
	return c.wait(func() bool { return len(c.timers) == n }, fmt.Sprintf("%d armed timers", n))
}

// WaitArms waits until timers have been armed at least n times in all. It
// gives up with an error after a few seconds of real time.
func (c *Clock) WaitArms(n int) error {
	return c.wait(func() bool { return c.arms >= n }, fmt.Sprintf("%d timer arms", n))
}

// waitLimit bounds every wait, so a broken test fails instead of hanging.
const waitLimit = 5 * time.Second

func (c *Clock) wait(cond func() bool, what string) error {
	deadline := time.Now().Add(waitLimit)
	for {
		c.mu.Lock()
		ok := cond()
		armed, arms := len(c.timers), c.arms
		c.mu.Unlock()
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("keypadtest: waited %v for %s; have %d armed, %d arms", waitLimit, what, armed, arms)
		}
		time.Sleep(20 * time.Microsecond)
	}
}

type timer struct {
	c    *Clock
	ch   chan time.Time
	when time.Time
}

func (t *timer) C() <-chan time.Time { return t.ch }

func (t *timer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	_, armed := t.c.timers[t]
	delete(t.c.timers, t)
	return armed
}

func (t *timer) Reset(d time.Duration) bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	_, armed := t.c.timers[t]
	t.when = t.c.now.Add(d)
	t.c.timers[t] = struct{}{}
	t.c.arms++
	return armed
}
