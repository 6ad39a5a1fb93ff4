package keypad

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/warthog618/go-gpiocdev"
)

// cdevPins drives the matrix through the kernel's GPIO character device
// (any Pi, and the only way on a Pi 5). Rows are open-drain outputs: 0
// drives a row low, 1 lets it float up on its pull-up. Lines are requested
// only between Setup and Release.
type cdevPins struct {
	chip             string
	rowOffs, colOffs []int
	settle           time.Duration
	rows, cols       *gpiocdev.Lines
	rowVals, colVals []int
}

// consumer is the name the kernel shows for our lines (gpioinfo).
const consumer = "pi2pid-keypad"

func newCdevPins(cfg Config) (Pins, error) {
	chip := cfg.Chip
	if chip == "" {
		chip = headerChip()
	}
	if err := gpiocdev.IsChip(chip); err != nil {
		return nil, cdevError(chip, err)
	}
	return &cdevPins{
		chip:    chip,
		rowOffs: append([]int(nil), cfg.RowPins...),
		colOffs: append([]int(nil), cfg.ColPins...),
		settle:  cfg.Settle,
		rowVals: make([]int, len(cfg.RowPins)),
		colVals: make([]int, len(cfg.ColPins)),
	}, nil
}

func (p *cdevPins) Kind() string { return "gpiocdev" }

func (p *cdevPins) Setup() error {
	cols, err := gpiocdev.RequestLines(p.chip, p.colOffs,
		gpiocdev.AsInput, gpiocdev.WithPullUp, gpiocdev.WithConsumer(consumer))
	if err != nil {
		return cdevError(p.chip, err)
	}
	for i := range p.rowVals {
		p.rowVals[i] = 1
	}
	rows, err := gpiocdev.RequestLines(p.chip, p.rowOffs,
		gpiocdev.AsOutput(p.rowVals...), gpiocdev.AsOpenDrain, gpiocdev.WithPullUp, gpiocdev.WithConsumer(consumer))
	if err != nil {
		cols.Close()
		return cdevError(p.chip, err)
	}
	p.rows, p.cols = rows, cols
	return nil
}

func (p *cdevPins) SelectRow(r int) error {
	for i := range p.rowVals {
		p.rowVals[i] = 1
		if i == r {
			p.rowVals[i] = 0
		}
	}
	if err := p.rows.SetValues(p.rowVals); err != nil {
		return err
	}
	if r >= 0 {
		time.Sleep(p.settle)
	}
	return nil
}

func (p *cdevPins) Columns() (uint32, error) {
	if err := p.cols.Values(p.colVals); err != nil {
		return 0, err
	}
	var low uint32
	for i, v := range p.colVals {
		if v == 0 {
			low |= 1 << i
		}
	}
	return low, nil
}

func (p *cdevPins) Release() error {
	var errs []error
	if p.rows != nil {
		errs = append(errs, p.rows.Close())
	}
	if p.cols != nil {
		errs = append(errs, p.cols.Close())
	}
	p.rows, p.cols = nil, nil
	return errors.Join(errs...)
}

// headerChip returns the GPIO chip that drives the Raspberry Pi header, or
// "gpiochip0" when none is recognised.
func headerChip() string {
	for _, name := range gpiocdev.Chips() {
		c, err := gpiocdev.NewChip(name)
		if err != nil {
			continue
		}
		label := c.Label
		c.Close()
		switch label {
		case "pinctrl-rp1", "pinctrl-bcm2711", "pinctrl-bcm2835":
			return name
		}
	}
	return "gpiochip0"
}

func cdevError(chip string, err error) error {
	dev := chip
	if !strings.HasPrefix(dev, "/dev/") {
		dev = "/dev/" + chip
	}
	switch {
	case errors.Is(err, os.ErrPermission), errors.Is(err, gpiocdev.ErrPermissionDenied):
		return fmt.Errorf("keypad: cannot use %s: %w: add the user running pi2pid to group gpio", dev, err)
	case errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("keypad: no GPIO chip %s: set the keypad chip (gpiochip0, or gpiochip4 on older Pi 5 kernels) or use --keypad console", dev)
	}
	return fmt.Errorf("keypad: GPIO chip %s: %w", dev, err)
}
