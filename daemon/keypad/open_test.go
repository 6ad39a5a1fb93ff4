package keypad_test

import (
	"errors"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/pi2pi/pi2pi/daemon/keypad"
)

func TestOpen(t *testing.T) {
	src, err := keypad.Open("console", keypad.Config{})
	if err != nil || src.Kind() != "console" {
		t.Errorf("Open(console) = %v, %v", src, err)
	}
	if _, ok := src.(*keypad.Console); !ok {
		t.Errorf("Open(console) is a %T, want *keypad.Console", src)
	}
	src, err = keypad.Open("none", keypad.Config{})
	if err != nil || src.Kind() != "none" {
		t.Fatalf("Open(none) = %v, %v", src, err)
	}
	if err := src.Start(); !errors.Is(err, keypad.ErrNoKeypad) {
		t.Errorf("Start of no keypad = %v, want ErrNoKeypad", err)
	}
	src.Stop()
	if _, err := keypad.Open("usb", keypad.Config{}); err == nil || !strings.Contains(err.Error(), "rpio") {
		t.Errorf("Open(usb) = %v, want an error naming the kinds", err)
	}
}

func TestOpenGPIOChecksPins(t *testing.T) {
	small, _ := keypad.ParseLayout("123/456/789/*0#")
	bad := []keypad.Config{
		{Layout: small},                          // 3 columns, 4 default column pins
		{RowPins: []int{5, 6, 13}},               // 3 rows for a 4-row layout
		{RowPins: []int{5, 6, 13, 12}},           // 12 is also a column
		{ColPins: []int{12, 16, 20, 99}},         // no such GPIO
		{RowPins: []int{5, 6, 13, -1}},           // no such GPIO
		{Layout: small, ColPins: []int{1, 2, 2}}, // twice
	}
	for _, kind := range []string{"rpio", "gpiocdev"} {
		for _, cfg := range bad {
			if _, err := keypad.Open(kind, cfg); err == nil {
				t.Errorf("Open(%s, %+v) accepted bad pins", kind, cfg)
			}
		}
	}
}

// On a machine without GPIO (CI, a laptop) opening a GPIO keypad fails at
// once with advice.
func TestOpenGPIOWithoutHardware(t *testing.T) {
	for _, kind := range []string{"rpio", "gpiocdev"} {
		src, err := keypad.Open(kind, keypad.Config{Chip: "gpiochip-pi2pi-test-none"})
		if err == nil {
			if kind == "rpio" {
				t.Logf("this machine has GPIO registers; %s keypad opened (%s)", kind, src.Kind())
				continue
			}
			t.Errorf("Open(%s) with a missing chip succeeded", kind)
			continue
		}
		if runtime.GOOS == "linux" && !strings.Contains(err.Error(), ": ") {
			t.Errorf("Open(%s) = %q, want advice", kind, err)
		}
		t.Logf("Open(%s): %v", kind, err)
	}
}

func TestParsePins(t *testing.T) {
	got, err := keypad.ParsePins(" 5,6 ,13,19")
	if err != nil || !slices.Equal(got, []int{5, 6, 13, 19}) {
		t.Errorf("ParsePins = %v, %v", got, err)
	}
	for _, s := range []string{"", "5,,6", "a", "54", "-1", "1,2,3,4,5,6,7,8,9"} {
		if p, err := keypad.ParsePins(s); err == nil {
			t.Errorf("ParsePins(%q) = %v, want an error", s, p)
		}
	}
	if !slices.Equal(keypad.DefaultRowPins, []int{5, 6, 13, 19}) || !slices.Equal(keypad.DefaultColPins, []int{12, 16, 20, 21}) {
		t.Error("default pins changed: update the wiring diagram in doc.go too")
	}
}
