package keypadtest

import (
	"errors"
	"fmt"
	"sync"

	"github.com/pi2pi/pi2pi/daemon/keypad"
)

// Pins simulates a diode-less keypad matrix behind keypad.Pins, including
// its ghost keys: with the selected row driven low, a column reads low when
// any chain of pressed keys joins it to that row.
//
// Pins counts what the scanner does and records misuse (a scan outside
// Setup..Release, a second Setup) so tests can check that scanning stops.
type Pins struct {
	mu       sync.Mutex
	layout   keypad.Layout
	down     []bool // row-major
	selected int
	active   bool
	fail     error

	setups, releases, selects int
	misuse                    []string
}

// NewPins returns released pins wired to a keypad with layout l.
func NewPins(l keypad.Layout) *Pins {
	return &Pins{layout: l, down: make([]bool, l.Rows()*l.Cols()), selected: -1}
}

// Kind returns "sim".
func (p *Pins) Kind() string { return "sim" }

// Down holds key k down; Up lets it go. Both panic when the layout has no
// key k.
func (p *Pins) Down(k keypad.Key) { p.set(k, true) }
func (p *Pins) Up(k keypad.Key)   { p.set(k, false) }

// UpAll lets every key go.
func (p *Pins) UpAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	clear(p.down)
}

func (p *Pins) set(k keypad.Key, down bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for r := 0; r < p.layout.Rows(); r++ {
		for c := 0; c < p.layout.Cols(); c++ {
			if p.layout.Key(r, c) == k {
				p.down[r*p.layout.Cols()+c] = down
				return
			}
		}
	}
	panic(fmt.Sprintf("keypadtest: layout %s has no key %q", p.layout, rune(k)))
}

// Fail makes every later Setup, SelectRow and Columns return err (nil heals).
func (p *Pins) Fail(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.fail = err
}

// Active reports whether the pins are between Setup and Release.
func (p *Pins) Active() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.active
}

// Counts returns how many times Setup, Release and SelectRow were called.
func (p *Pins) Counts() (setups, releases, selects int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.setups, p.releases, p.selects
}

// Misuse returns a description of every call made out of order.
func (p *Pins) Misuse() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.misuse...)
}

// Setup implements keypad.Pins.
func (p *Pins) Setup() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.fail != nil {
		return p.fail
	}
	if p.active {
		p.misuse = append(p.misuse, "Setup while set up")
	}
	p.setups++
	p.active = true
	p.selected = -1
	return nil
}

// SelectRow implements keypad.Pins.
func (p *Pins) SelectRow(r int) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.selects++
	if !p.active {
		p.misuse = append(p.misuse, "SelectRow while released")
		return errors.New("keypadtest: SelectRow while released")
	}
	if p.fail != nil {
		return p.fail
	}
	if r >= p.layout.Rows() {
		p.misuse = append(p.misuse, fmt.Sprintf("SelectRow(%d) of %d rows", r, p.layout.Rows()))
		return errors.New("keypadtest: no such row")
	}
	p.selected = r
	return nil
}

// Columns implements keypad.Pins.
func (p *Pins) Columns() (uint32, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.active {
		p.misuse = append(p.misuse, "Columns while released")
		return 0, errors.New("keypadtest: Columns while released")
	}
	if p.fail != nil {
		return 0, p.fail
	}
	if p.selected < 0 {
		return 0, nil
	}
	rows, cols := p.layout.Rows(), p.layout.Cols()
	// Spread the low level from the selected row through pressed keys.
	rowLow := make([]bool, rows)
	var colLow uint32
	rowLow[p.selected] = true
	for changed := true; changed; {
		changed = false
		for r := 0; r < rows; r++ {
			for c := 0; c < cols; c++ {
				if !p.down[r*cols+c] {
					continue
				}
				if rowLow[r] && colLow&(1<<c) == 0 {
					colLow |= 1 << c
					changed = true
				}
				if colLow&(1<<c) != 0 && !rowLow[r] {
					rowLow[r] = true
					changed = true
				}
			}
		}
	}
	return colLow, nil
}

// Release implements keypad.Pins.
func (p *Pins) Release() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.active {
		p.misuse = append(p.misuse, "Release while released")
	}
	p.releases++
	p.active = false
	p.selected = -1
	return nil
}
