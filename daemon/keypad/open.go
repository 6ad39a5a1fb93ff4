package keypad

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Default wiring of a 4×4 membrane keypad on the Raspberry Pi header, as BCM
// GPIO numbers (which are also the line offsets on the header's GPIO chip);
// see the package documentation for the diagram.
var (
	DefaultRowPins = []int{5, 6, 13, 19}   // header pins 29, 31, 33, 35
	DefaultColPins = []int{12, 16, 20, 21} // header pins 32, 36, 38, 40
)

// DefaultSettle is how long the hardware backends wait after driving a row
// before they read the columns.
const DefaultSettle = 50 * time.Microsecond

// Config configures Open.
type Config struct {
	// Layout of the keys (DefaultLayout when zero).
	Layout Layout
	// RowPins and ColPins are BCM GPIO numbers for rpio and line offsets for
	// gpiocdev, one per layout row and column (DefaultRowPins and
	// DefaultColPins when nil).
	RowPins, ColPins []int
	// Chip is the GPIO character device for gpiocdev, e.g. "gpiochip0" or
	// "gpiochip4" (older Pi 5 kernels). When empty Open looks for the chip of
	// the Raspberry Pi header (label pinctrl-rp1, pinctrl-bcm2711 or
	// pinctrl-bcm2835) and falls back to gpiochip0.
	Chip string
	// Settle is the wait between driving a row and reading the columns
	// (DefaultSettle when zero): long enough for a column released by the
	// previous row to float back up through its pull-up.
	Settle time.Duration
	// Matrix tunes the scanner.
	Matrix MatrixConfig
}

// Kinds lists the keypad kinds Open knows. They are the control API's
// keypad kinds (control.Keypad*); a test of package main checks both lists.
var Kinds = []string{"console", "rpio", "gpiocdev", "none"}

// Open returns the keypad of the given kind: "console" (presses from
// pi2pictl), "rpio" (GPIO matrix through /dev/gpiomem, Raspberry Pi 0–4),
// "gpiocdev" (GPIO matrix through the kernel's GPIO character device, any
// Pi including the Pi 5) or "none". For the GPIO kinds Open checks that the
// device is there but claims nothing: the lines are claimed by Start.
func Open(kind string, cfg Config) (Source, error) {
	switch kind {
	case "console":
		return NewConsole(), nil
	case "none":
		return none{keys: make(chan Key)}, nil
	case "rpio", "gpiocdev":
	default:
		return nil, fmt.Errorf("keypad: unknown keypad %q: use one of %s", kind, strings.Join(Kinds, ", "))
	}
	cfg.Layout = cfg.Layout.orDefault()
	if cfg.RowPins == nil {
		cfg.RowPins = DefaultRowPins
	}
	if cfg.ColPins == nil {
		cfg.ColPins = DefaultColPins
	}
	if cfg.Settle <= 0 {
		cfg.Settle = DefaultSettle
	}
	if err := checkPins(cfg); err != nil {
		return nil, err
	}
	var p Pins
	var err error
	if kind == "rpio" {
		p, err = newRpioPins(cfg)
	} else {
		p, err = newCdevPins(cfg)
	}
	if err != nil {
		return nil, err
	}
	return NewMatrix(p, cfg.Layout, cfg.Matrix), nil
}

// checkPins checks that the pins fit the layout and are distinct.
func checkPins(cfg Config) error {
	if len(cfg.RowPins) != cfg.Layout.Rows() || len(cfg.ColPins) != cfg.Layout.Cols() {
		return fmt.Errorf("keypad: the layout has %d rows and %d columns but %d row pins and %d column pins are configured",
			cfg.Layout.Rows(), cfg.Layout.Cols(), len(cfg.RowPins), len(cfg.ColPins))
	}
	seen := map[int]bool{}
	for _, p := range append(append([]int(nil), cfg.RowPins...), cfg.ColPins...) {
		if p < 0 || p > maxPin {
			return fmt.Errorf("keypad: GPIO %d is out of range 0-%d", p, maxPin)
		}
		if seen[p] {
			return fmt.Errorf("keypad: GPIO %d is configured twice", p)
		}
		seen[p] = true
	}
	return nil
}

// maxPin is the highest GPIO number accepted (the BCM2835 has 54 GPIOs).
const maxPin = 53

// ParsePins parses a comma-separated list of GPIO numbers such as
// "5,6,13,19".
func ParsePins(s string) ([]int, error) {
	var pins []int
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		n, err := strconv.Atoi(f)
		if err != nil || n < 0 || n > maxPin {
			return nil, fmt.Errorf("keypad: %q is not a GPIO number (0-%d): write pins like 5,6,13,19", f, maxPin)
		}
		pins = append(pins, n)
	}
	if len(pins) > MaxLines {
		return nil, fmt.Errorf("keypad: more than %d pins", MaxLines)
	}
	return pins, nil
}
