// Package keypad reads passcodes from the terminal's keypad.
//
// A keypad is a Source of key presses: a GPIO matrix (Matrix over Pins, with
// backends for go-rpio on the Raspberry Pi 0–4 and for the kernel's GPIO
// character device, needed on the Pi 5), the console keypad that pi2pictl
// feeds through the daemon (Console), or none. ReadPasscode turns the presses
// into digits using a Map of Enter, Backspace and Cancel keys. Sources scan
// only while ReadPasscode runs: an idle daemon has no keypad goroutine and no
// timer.
//
// # Scanning and debouncing
//
// Every ScanPeriod (5 ms) the Matrix drives the rows low one at a time and
// reads the columns, which have pull-ups: a column reads low when a pressed
// key joins it to the selected row. Unselected rows are released (input or
// open-drain), never driven high. The set of pressed keys counts once it
// has stayed the same for Debounce (20 ms). A key is reported when that set
// goes from nothing to exactly one key; a held key therefore reports once.
// Two or more keys at once are ambiguous (three even make a ghost key in a
// diode-less matrix), so nothing more is reported until every key is up
// again: hold 1 and press 2, and only 1 is reported.
//
// # Layout and key map
//
// The default layout is the 4×4 membrane keypad "123A/456B/789C/*0#D" with
// DefaultMap (A = Enter, B = Backspace, C = Cancel). The older course handout's hex
// keypad is HexLayout "123A/456B/789C/0FED" with LegacyHexMap (F = Enter,
// A = Backspace, B = Cancel). Both are one setting away (ParseLayout,
// ParseMap), and so are the pins (ParsePins).
//
// # Wiring
//
// Default pins (BCM GPIO numbers, which are also the line offsets on the
// header's GPIO chip for gpiocdev): rows 5, 6, 13, 19 and columns 12, 16,
// 20, 21, i.e. the last eight signal pins at the far end of the 40-pin
// header. No resistors are needed: the columns use the SoC's internal
// pull-ups. Most membrane keypads have an 8-way connector with rows on
// contacts 1–4 and columns on 5–8, counted from the left with the keys
// facing you.
//
//	Keypad, keys facing you                 Raspberry Pi header (BCM GPIO)
//
//	+---+---+---+---+
//	| 1 | 2 | 3 | A |  row 1 --- contact 1 --- GPIO 5   pin 29
//	+---+---+---+---+
//	| 4 | 5 | 6 | B |  row 2 --- contact 2 --- GPIO 6   pin 31
//	+---+---+---+---+
//	| 7 | 8 | 9 | C |  row 3 --- contact 3 --- GPIO 13  pin 33
//	+---+---+---+---+
//	| * | 0 | # | D |  row 4 --- contact 4 --- GPIO 19  pin 35
//	+---+---+---+---+
//	  |   |   |   |
//	  |   |   |   +--- col 4 --- contact 8 --- GPIO 21  pin 40
//	  |   |   +------- col 3 --- contact 7 --- GPIO 20  pin 38
//	  |   +----------- col 2 --- contact 6 --- GPIO 16  pin 36
//	  +--------------- col 1 --- contact 5 --- GPIO 12  pin 32
//
//	Header pins 29-40 (pin 1, 3V3, is at the other end of the header):
//
//	row 1   GPIO 5  (29) (30) GND
//	row 2   GPIO 6  (31) (32) GPIO 12  col 1
//	row 3   GPIO 13 (33) (34) GND
//	row 4   GPIO 19 (35) (36) GPIO 16  col 2
//	        GPIO 26 (37) (38) GPIO 20  col 3
//	        GND     (39) (40) GPIO 21  col 4
//
// GPIO 12, 13 and 19 double as PWM and audio lines and 16, 20, 21 as SPI1:
// leave those functions disabled in config.txt or choose other pins.
//
// # Backends
//
// "rpio" maps /dev/gpiomem with go-rpio (Pi 0–4; it does not work on a Pi 5)
// and only polls: its edge detection can hang a Pi. "gpiocdev" requests the
// lines from the kernel (/dev/gpiochipN; gpiochip0 on current Pi 5 kernels,
// gpiochip4 on older ones; found by label when not configured). Both need
// the daemon's user in group gpio. The lines are claimed in Start and given
// back in Stop, so other programs can use them while nobody logs in.
//
// # Secrecy
//
// Key values are never logged, never formatted (Key has no String method)
// and never kept after use: Sources discard unread presses when they stop,
// and ReadPasscode zeroes its buffer. The caller zeroes the returned digits.
package keypad
