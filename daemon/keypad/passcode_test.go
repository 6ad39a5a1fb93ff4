package keypad_test

import (
	"context"
	"errors"
	"log/slog"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/pi2pi/pi2pi/daemon/keypad"
	"github.com/pi2pi/pi2pi/daemon/keypad/keypadtest"
	"github.com/pi2pi/pi2pi/internal/wire"
)

const timeout = 30 * time.Second

// entry is a ReadPasscode running on the console keypad and a fake clock.
type entry struct {
	t    *testing.T
	clk  *keypadtest.Clock
	con  *keypad.Console
	done chan result
}

type result struct {
	digits []byte
	err    error
}

func startEntry(t *testing.T, ctx context.Context, m keypad.Map) *entry {
	t.Helper()
	e := &entry{t: t, clk: keypadtest.NewClock(), con: keypad.NewConsole(), done: make(chan result, 1)}
	go func() {
		d, err := keypad.ReadPasscode(ctx, e.con, m, timeout, e.clk)
		e.done <- result{d, err}
	}()
	if err := e.clk.WaitArmed(1); err != nil { // the entry's timeout timer
		t.Fatal(err)
	}
	return e
}

// press presses keys one by one, each after the entry has taken the one before.
func (e *entry) press(keys string) {
	e.t.Helper()
	for i := 0; i < len(keys); i++ {
		a := e.clk.Arms()
		if err := e.con.Press(keypad.Key(keys[i])); err != nil {
			e.t.Fatalf("Press: %v", err)
		}
		if i < len(keys)-1 {
			if err := e.clk.WaitArms(a + 1); err != nil {
				e.t.Fatal(err)
			}
		}
	}
}

func (e *entry) result() ([]byte, error) {
	e.t.Helper()
	select {
	case r := <-e.done:
		if err := e.con.Press('1'); !errors.Is(err, keypad.ErrNotStarted) {
			e.t.Errorf("console still takes keys after ReadPasscode returned: %v", err)
		}
		return r.digits, r.err
	case <-time.After(30 * time.Second):
		e.t.Fatal("ReadPasscode did not return")
		return nil, nil
	}
}

func (e *entry) expect(want string, wantErr error) {
	e.t.Helper()
	got, err := e.result()
	if string(got) != want || !errors.Is(err, wantErr) {
		e.t.Errorf("ReadPasscode = %q, %v; want %q, %v", got, err, want, wantErr)
	}
}

type passcodeCase struct {
	name    string
	m       keypad.Map
	keys    string
	want    string
	wantErr error
}

func TestReadPasscode(t *testing.T) {
	tests := []passcodeCase{
		{"enter", keypad.DefaultMap, "1234A", "1234", nil},
		{"zero map is default", keypad.Map{}, "0A", "0", nil},
		{"backspace", keypad.DefaultMap, "12B3B45A", "145", nil},
		{"backspace all", keypad.DefaultMap, "12B3BBB45A", "45", nil},
		{"backspace on empty", keypad.DefaultMap, "BB7A", "7", nil},
		{"cancel", keypad.DefaultMap, "12C", "", keypad.ErrCancelled},
		{"other keys ignored", keypad.DefaultMap, "1*#D2EFA", "12", nil},
		{"empty", keypad.DefaultMap, "BA", "", keypad.ErrEmpty},
		{"legacy hex", keypad.LegacyHexMap, "98A76CDF", "976", nil},
		{"legacy hex cancel", keypad.LegacyHexMap, "98B", "", keypad.ErrCancelled},
		{"longest", keypad.DefaultMap, strings.Repeat("9", wire.MaxPasscode) + "A", strings.Repeat("9", wire.MaxPasscode), nil},
		{"too long", keypad.DefaultMap, strings.Repeat("9", wire.MaxPasscode+1), "", keypad.ErrTooLong},
		{"edit at the limit", keypad.DefaultMap, strings.Repeat("1", wire.MaxPasscode) + "B2A", strings.Repeat("1", wire.MaxPasscode-1) + "2", nil},
	}
	// The meaning keys of pi2pictl's console keypad work under every map.
	const enter, bs, cancel = string(keypad.Enter), string(keypad.Backspace), string(keypad.Cancel)
	custom := keypad.Map{Enter: '#', Backspace: '*', Cancel: 'D'}
	enterOnly := keypad.Map{Enter: 'D'}
	for _, m := range []keypad.Map{keypad.DefaultMap, keypad.LegacyHexMap, custom, enterOnly} {
		tests = append(tests,
			passcodeCase{"meanings under " + m.String(), m, "12" + bs + "3" + enter, "13", nil},
			passcodeCase{"meaning cancel under " + m.String(), m, "12" + cancel, "", keypad.ErrCancelled})
	}
	tests = append(tests, passcodeCase{"custom map", custom, "1A2B3*#", "12", nil})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := startEntry(t, context.Background(), tt.m)
			e.press(tt.keys)
			e.expect(tt.want, tt.wantErr)
		})
	}
}

func TestReadPasscodeTimeout(t *testing.T) {
	e := startEntry(t, context.Background(), keypad.DefaultMap)
	e.clk.Advance(timeout)
	e.expect("", keypad.ErrTimeout)
}

func TestReadPasscodeKeyRestartsTimeout(t *testing.T) {
	e := startEntry(t, context.Background(), keypad.DefaultMap)
	for _, k := range "123" {
		e.clk.Advance(timeout - time.Second)
		a := e.clk.Arms()
		e.press(string(k))
		if err := e.clk.WaitArms(a + 1); err != nil {
			t.Fatal(err)
		}
	}
	e.clk.Advance(timeout - time.Second)
	e.press("A")
	e.expect("123", nil)

	// An abandoned entry times out after its last key.
	e = startEntry(t, context.Background(), keypad.DefaultMap)
	a := e.clk.Arms()
	e.press("4")
	if err := e.clk.WaitArms(a + 1); err != nil {
		t.Fatal(err)
	}
	e.clk.Advance(timeout)
	e.expect("", keypad.ErrTimeout)
}

func TestReadPasscodeContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	e := startEntry(t, ctx, keypad.DefaultMap)
	e.press("12")
	cancel()
	e.expect("", context.Canceled)

	con := keypad.NewConsole()
	if _, err := keypad.ReadPasscode(ctx, con, keypad.DefaultMap, timeout, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("ReadPasscode with a done context = %v, want context.Canceled", err)
	}
	if err := con.Press('1'); !errors.Is(err, keypad.ErrNotStarted) {
		t.Errorf("a done context started the keypad: %v", err)
	}
}

func TestReadPasscodeBadMap(t *testing.T) {
	_, err := keypad.ReadPasscode(context.Background(), keypad.NewConsole(), keypad.Map{Enter: '5'}, timeout, nil)
	if err == nil {
		t.Error("ReadPasscode took a digit as Enter")
	}
}

func TestReadPasscodeStartError(t *testing.T) {
	src, err := keypad.Open("none", keypad.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := keypad.ReadPasscode(context.Background(), src, keypad.DefaultMap, timeout, nil); !errors.Is(err, keypad.ErrNoKeypad) {
		t.Errorf("ReadPasscode on no keypad = %v, want ErrNoKeypad", err)
	}
}

// A whole passcode typed on a simulated hex keypad, with bounce, through the
// matrix scanner; nothing about the keys reaches the log.
func TestReadPasscodeOnHexMatrix(t *testing.T) {
	before := runtime.NumGoroutine()
	clk := keypadtest.NewClock()
	pins := keypadtest.NewPins(keypad.HexLayout)
	logs := &recordHandler{}
	m := keypad.NewMatrix(pins, keypad.HexLayout, keypad.MatrixConfig{ScanPeriod: period, Debounce: debounce, Clock: clk, Logger: slog.New(logs)})
	done := make(chan result, 1)
	go func() {
		d, err := keypad.ReadPasscode(context.Background(), m, keypad.LegacyHexMap, timeout, clk)
		done <- result{d, err}
	}()
	if err := clk.WaitArmed(2); err != nil { // scanner and timeout
		t.Fatal(err)
	}
	var res *result
	// step scans n times, or until ReadPasscode returns.
	step := func(n int) {
		for i := 0; i < n && res == nil; i++ {
			clk.Advance(period)
			for deadline := time.Now().Add(5 * time.Second); clk.Armed() != 2; {
				select {
				case r := <-done:
					res = &r
					return
				default:
				}
				if time.Now().After(deadline) {
					t.Fatal("the scanner did not finish its scan")
				}
				time.Sleep(20 * time.Microsecond)
			}
		}
	}
	step(settled)
	for _, k := range []keypad.Key{'8', '0', 'E', '1', 'A', '5', '5', 'F'} {
		pins.Down(k)
		step(1)
		pins.Up(k) // bounce
		step(1)
		pins.Down(k)
		step(settled)
		pins.Up(k)
		step(settled)
	}
	if res == nil {
		// F was pressed and released; on a loaded machine (qemu) the
		// reader may still be on its way out of ReadPasscode.
		select {
		case r := <-done:
			res = &r
		case <-time.After(30 * time.Second):
			t.Fatal("ReadPasscode did not return after F")
		}
	}
	if string(res.digits) != "8055" || res.err != nil {
		t.Errorf("ReadPasscode = %q, %v; want 8055", res.digits, res.err)
	}
	if pins.Active() || clk.Armed() != 0 {
		t.Error("the matrix still scans after ReadPasscode returned")
	}
	if bad := pins.Misuse(); len(bad) > 0 {
		t.Errorf("pins were misused: %v", bad)
	}
	waitGoroutines(t, before)
	if logs.records == 0 {
		t.Error("nothing logged at debug level; the check below proves nothing")
	}
	if logs.leak != "" {
		t.Errorf("a key reached the log: %s", logs.leak)
	}
}

// recordHandler is a slog.Handler that looks for keys in every record.
type recordHandler struct {
	records int
	leak    string
}

func (h *recordHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *recordHandler) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *recordHandler) WithGroup(string) slog.Handler            { return h }

func (h *recordHandler) Handle(_ context.Context, r slog.Record) error {
	h.records++
	if strings.Contains(r.Message, "8055") {
		h.leak = r.Message
	}
	r.Attrs(func(a slog.Attr) bool {
		switch v := a.Value.Any().(type) {
		case keypad.Key, []byte:
			h.leak = a.String()
		case string:
			if len(v) == 1 || strings.Contains(v, "8055") {
				h.leak = a.String()
			}
		}
		return true
	})
	return nil
}
