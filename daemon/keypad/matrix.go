package keypad

import (
	"fmt"
	"log/slog"
	"math/bits"
	"sync"
	"time"
)

// Pins is the GPIO seam of a keypad matrix. Rows are outputs that are either
// driven low (the selected row) or released (high impedance, pulled up);
// columns are inputs with pull-ups, so a column reads low exactly when a
// pressed key joins it to the selected row. Releasing the unselected rows
// instead of driving them high means two keys pressed in one column can never
// short two outputs together.
//
// The Matrix calls these from one goroutine at a time, between Setup and
// Release. A Pins may also have a Kind() string method, which becomes the
// Matrix's Kind.
type Pins interface {
	// Setup claims the lines: columns as inputs with pull-ups, rows released.
	// When it fails it leaves nothing claimed.
	Setup() error
	// SelectRow drives row r low and releases every other row, then waits
	// until the columns have settled; r < 0 releases all rows.
	SelectRow(r int) error
	// Columns returns the columns that read low: bit c for column c.
	Columns() (uint32, error)
	// Release returns every line to an input and gives it back.
	Release() error
}

// Defaults of MatrixConfig.
const (
	DefaultScanPeriod = 5 * time.Millisecond
	DefaultDebounce   = 20 * time.Millisecond
)

// MatrixConfig tunes the scanner. The zero value is ready to use.
type MatrixConfig struct {
	// ScanPeriod is the time between two scans of the whole matrix
	// (DefaultScanPeriod when zero).
	ScanPeriod time.Duration
	// Debounce is how long the set of pressed keys must stay the same before
	// it counts (DefaultDebounce when zero).
	Debounce time.Duration
	// Clock drives the scans (RealClock when nil).
	Clock Clock
	// Logger receives start, stop and error messages, never keys
	// (slog.Default() when nil).
	Logger *slog.Logger
}

// Matrix is a Source that scans a keypad matrix through Pins.
//
// Each scan drives the rows low one at a time and reads the columns. The set
// of pressed keys counts once it has been stable for Debounce. A key is
// reported when that set goes from "nothing pressed" to exactly that key, so
// a held key reports once. When two or more keys are down at once the chord
// is ambiguous (a diode-less matrix even shows ghost keys with three), so
// nothing is reported until every key has been released: pressing a second
// key while holding one, or two keys together, reports nothing beyond the
// first. A key already held when scanning starts is not reported until it
// has been released and pressed again.
type Matrix struct {
	pins   Pins
	layout Layout
	period time.Duration
	window time.Duration
	clock  Clock
	log    *slog.Logger
	keys   chan Key

	mu   sync.Mutex // guards stop and done; held across Start and Stop
	stop chan struct{}
	done chan struct{}
}

// NewMatrix returns a stopped Matrix scanning p with the given layout; the
// layout's rows and columns must match the lines p drives and reads.
func NewMatrix(p Pins, layout Layout, cfg MatrixConfig) *Matrix {
	m := &Matrix{
		pins:   p,
		layout: layout.orDefault(),
		period: cfg.ScanPeriod,
		window: cfg.Debounce,
		clock:  cfg.Clock,
		log:    cfg.Logger,
		keys:   make(chan Key, keyBuffer),
	}
	if m.period <= 0 {
		m.period = DefaultScanPeriod
	}
	if m.window <= 0 {
		m.window = DefaultDebounce
	}
	if m.clock == nil {
		m.clock = RealClock
	}
	if m.log == nil {
		m.log = slog.Default()
	}
	return m
}

// Keys returns the channel of key presses.
func (m *Matrix) Keys() <-chan Key { return m.keys }

// Kind returns the kind of the pins ("rpio", "gpiocdev", "sim", ...), or
// "gpio" when they do not say.
func (m *Matrix) Kind() string {
	if k, ok := m.pins.(interface{ Kind() string }); ok {
		return k.Kind()
	}
	return "gpio"
}

// Start claims the pins and starts scanning.
func (m *Matrix) Start() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.stop != nil {
		return ErrStarted
	}
	if err := m.pins.Setup(); err != nil {
		return err
	}
	drain(m.keys)
	m.stop = make(chan struct{})
	m.done = make(chan struct{})
	t := m.clock.NewTimer(m.period)
	go m.run(t, m.stop, m.done)
	m.log.Debug("keypad: scanning", "kind", m.Kind(), "period", m.period, "debounce", m.window)
	return nil
}

// Stop stops scanning, waits for the scanner to end, releases the pins and
// discards presses nobody read. It does nothing when the Matrix is stopped.
func (m *Matrix) Stop() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.stop == nil {
		return
	}
	close(m.stop)
	<-m.done
	m.stop, m.done = nil, nil
	if err := m.pins.Release(); err != nil {
		m.log.Warn("keypad: releasing the GPIO lines failed", "kind", m.Kind(), "err", err)
	}
	drain(m.keys)
	m.log.Debug("keypad: scanning stopped", "kind", m.Kind())
}

func (m *Matrix) run(t Timer, stop, done chan struct{}) {
	defer close(done)
	defer t.Stop()
	d := debouncer{window: m.window}
	failing := false
	for {
		select {
		case <-stop:
			return
		case <-t.C():
		}
		state, err := m.scan()
		switch {
		case err != nil:
			if !failing {
				m.log.Error("keypad: reading the keypad failed; retrying", "kind", m.Kind(), "err", err)
			}
			failing = true
		default:
			if failing {
				m.log.Info("keypad: reading the keypad works again", "kind", m.Kind())
			}
			failing = false
			if i, ok := d.update(state, m.clock.Now()); ok {
				m.emit(m.layout.keys[i])
			}
		}
		t.Reset(m.period)
	}
}

// scan reads the whole matrix once: bit r*cols+c is set when the key at row
// r, column c is down.
func (m *Matrix) scan() (uint64, error) {
	var state uint64
	cols := m.layout.cols
	mask := uint32(1)<<cols - 1
	for r := 0; r < m.layout.rows; r++ {
		if err := m.pins.SelectRow(r); err != nil {
			return 0, err
		}
		c, err := m.pins.Columns()
		if err != nil {
			return 0, err
		}
		state |= uint64(c&mask) << (r * cols)
	}
	if err := m.pins.SelectRow(-1); err != nil {
		return 0, err
	}
	return state, nil
}

func (m *Matrix) emit(k Key) {
	select {
	case m.keys <- k:
	default:
		m.log.Warn("keypad: key press dropped: nobody is reading the keypad", "kind", m.Kind())
	}
}

// debouncer turns raw scans into key presses; see Matrix for the rules.
type debouncer struct {
	window time.Duration

	candidate uint64 // the last raw state
	since     time.Time
	sampled   bool

	stable uint64 // the last state that stayed unchanged for window
	known  bool
	armed  bool // nothing was pressed since the last report
}

// update takes one raw scan at time now and returns the index of a newly
// pressed key.
func (d *debouncer) update(raw uint64, now time.Time) (int, bool) {
	if !d.sampled || raw != d.candidate {
		d.candidate, d.since, d.sampled = raw, now, true
	}
	if now.Sub(d.since) < d.window || d.known && d.candidate == d.stable {
		return 0, false
	}
	d.stable, d.known = d.candidate, true
	switch bits.OnesCount64(d.stable) {
	case 0:
		d.armed = true
	case 1:
		if d.armed {
			d.armed = false
			return bits.TrailingZeros64(d.stable), true
		}
	default:
		d.armed = false
	}
	return 0, false
}

// String describes the matrix for logs and status, without any key state.
func (m *Matrix) String() string {
	return fmt.Sprintf("%s keypad %dx%d %s", m.Kind(), m.layout.rows, m.layout.cols, m.layout)
}
