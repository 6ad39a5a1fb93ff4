package keypad

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/stianeikeland/go-rpio/v4"
)

// rpioPins drives the matrix through go-rpio's mapping of /dev/gpiomem
// (Raspberry Pi 0–4). It polls only: go-rpio's edge detection can hang a Pi.
// The mapping exists only between Setup and Release.
type rpioPins struct {
	rows, cols []rpio.Pin
	settle     time.Duration
	open       bool
}

func newRpioPins(cfg Config) (Pins, error) {
	if err := canMapGPIO(); err != nil {
		return nil, err
	}
	p := &rpioPins{settle: cfg.Settle}
	for _, n := range cfg.RowPins {
		p.rows = append(p.rows, rpio.Pin(n))
	}
	for _, n := range cfg.ColPins {
		p.cols = append(p.cols, rpio.Pin(n))
	}
	return p, nil
}

func (p *rpioPins) Kind() string { return "rpio" }

func (p *rpioPins) Setup() error {
	if err := rpio.Open(); err != nil {
		return gpiomemError(err)
	}
	p.open = true
	for _, c := range p.cols {
		c.Input()
		c.PullUp()
	}
	for _, r := range p.rows {
		r.Input()
		r.PullUp()
		r.Low() // sets the output latch only; the row drives it once it is an output
	}
	return nil
}

func (p *rpioPins) SelectRow(r int) error {
	for i, pin := range p.rows {
		if i != r {
			pin.Input()
		}
	}
	if r >= 0 {
		p.rows[r].Low()
		p.rows[r].Output()
		time.Sleep(p.settle)
	}
	return nil
}

func (p *rpioPins) Columns() (uint32, error) {
	var low uint32
	for i, c := range p.cols {
		if c.Read() == rpio.Low {
			low |= 1 << i
		}
	}
	return low, nil
}

func (p *rpioPins) Release() error {
	if !p.open {
		return nil
	}
	for _, r := range p.rows {
		r.Input()
	}
	p.open = false
	return rpio.Close()
}

// canMapGPIO checks early, at daemon start, that go-rpio will be able to map
// the GPIO registers, so a missing device or permission shows up in the
// daemon's log instead of at the first login. It insists on a Raspberry Pi
// 0–4: as root go-rpio maps /dev/mem at the Pi's register address, which on
// any other machine is somebody else's memory.
func canMapGPIO() error {
	model := boardModel()
	switch {
	case isPi5(model):
		return fmt.Errorf("keypad: go-rpio does not work on a %s: use --keypad gpiocdev", model)
	case !strings.Contains(model, "Raspberry Pi"):
		return errors.New("keypad: this is not a Raspberry Pi (see /proc/device-tree/model), so the rpio keypad cannot work: use --keypad gpiocdev or --keypad console")
	}
	f, err := os.OpenFile("/dev/gpiomem", os.O_RDWR|os.O_SYNC, 0)
	if err != nil {
		return gpiomemError(err)
	}
	return f.Close()
}

func gpiomemError(err error) error {
	switch {
	case errors.Is(err, os.ErrPermission):
		return fmt.Errorf("keypad: cannot open /dev/gpiomem: %w: add the user running pi2pid to group gpio", err)
	case errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("keypad: %w: this is not a Raspberry Pi 0-4; use --keypad gpiocdev (Pi 5) or --keypad console", err)
	}
	return fmt.Errorf("keypad: cannot map the GPIO registers: %w", err)
}

// boardModel returns the board's model string from the device tree, or "".
func boardModel() string {
	b, err := os.ReadFile("/proc/device-tree/model")
	if err != nil {
		return ""
	}
	return strings.TrimRight(string(b), "\x00\n")
}

// isPi5 reports whether model names a board with the RP1 I/O chip, which
// go-rpio cannot drive.
func isPi5(model string) bool {
	return strings.Contains(model, "Raspberry Pi 5") ||
		strings.Contains(model, "Raspberry Pi 500") ||
		strings.Contains(model, "Compute Module 5")
}
