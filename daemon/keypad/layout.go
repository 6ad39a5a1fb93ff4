package keypad

import (
	"errors"
	"fmt"
	"strings"
)

// MaxLines is the most rows, and the most columns, a matrix may have.
const MaxLines = 8

// Layout says which key sits where in a keypad matrix: row r, column c.
// The zero Layout stands for DefaultLayout.
type Layout struct {
	keys       []Key // row-major
	rows, cols int
}

// Layouts that ParseLayout knows by name.
var (
	// DefaultLayout is the standard 4×4 membrane keypad, "123A/456B/789C/*0#D".
	DefaultLayout = mustLayout("123A/456B/789C/*0#D")
	// HexLayout is the 4×4 hex keypad of the Digilent Pmod KYPD, "123A/456B/789C/0FED",
	// for use with LegacyHexMap.
	HexLayout = mustLayout("123A/456B/789C/0FED")
)

func mustLayout(s string) Layout {
	l, err := parseRows(s)
	if err != nil {
		panic(err)
	}
	return l
}

// ParseLayout parses a layout: "default", "hex", or the keys row by row with
// rows separated by '/', e.g. "123A/456B/789C/*0#D" (spaces are ignored and
// letters may be lower case). Every row has the same number of keys, at most
// MaxLines rows and columns, and no key appears twice.
func ParseLayout(s string) (Layout, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "default":
		return DefaultLayout, nil
	case "hex":
		return HexLayout, nil
	}
	return parseRows(s)
}

func parseRows(s string) (Layout, error) {
	var l Layout
	seen := map[Key]bool{}
	for i, row := range strings.Split(s, "/") {
		if i >= MaxLines {
			return Layout{}, fmt.Errorf("keypad: layout has more than %d rows", MaxLines)
		}
		row = strings.Join(strings.Fields(row), "")
		if row == "" {
			return Layout{}, fmt.Errorf("keypad: layout row %d is empty: write rows like 123A/456B/789C/*0#D", i+1)
		}
		if len(row) > MaxLines {
			return Layout{}, fmt.Errorf("keypad: layout row %d has more than %d keys", i+1, MaxLines)
		}
		if i == 0 {
			l.cols = len(row)
		} else if len(row) != l.cols {
			return Layout{}, fmt.Errorf("keypad: layout row %d has %d keys, row 1 has %d: every row needs the same number", i+1, len(row), l.cols)
		}
		for j := 0; j < len(row); j++ {
			k, err := ParseKey(row[j : j+1])
			if err != nil {
				return Layout{}, fmt.Errorf("keypad: layout row %d: %w", i+1, err)
			}
			if seen[k] {
				return Layout{}, fmt.Errorf("keypad: layout has key %c twice", k)
			}
			seen[k] = true
			l.keys = append(l.keys, k)
		}
		l.rows++
	}
	if l.rows == 0 {
		return Layout{}, errors.New("keypad: layout is empty")
	}
	return l, nil
}

func (l Layout) orDefault() Layout {
	if l.rows == 0 {
		return DefaultLayout
	}
	return l
}

// Rows returns the number of rows.
func (l Layout) Rows() int { return l.orDefault().rows }

// Cols returns the number of columns.
func (l Layout) Cols() int { return l.orDefault().cols }

// Key returns the key at row r, column c (counting from 0).
func (l Layout) Key(r, c int) Key {
	l = l.orDefault()
	return l.keys[r*l.cols+c]
}

// Has reports whether the layout has key k.
func (l Layout) Has(k Key) bool {
	for _, x := range l.orDefault().keys {
		if x == k {
			return true
		}
	}
	return false
}

// String returns the layout in the form ParseLayout reads.
func (l Layout) String() string {
	l = l.orDefault()
	var b strings.Builder
	for r := 0; r < l.rows; r++ {
		if r > 0 {
			b.WriteByte('/')
		}
		for c := 0; c < l.cols; c++ {
			b.WriteByte(byte(l.keys[r*l.cols+c]))
		}
	}
	return b.String()
}
