package keypad_test

import (
	"errors"
	"log/slog"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/pi2pi/pi2pi/daemon/keypad"
	"github.com/pi2pi/pi2pi/daemon/keypad/keypadtest"
	"github.com/pi2pi/pi2pi/internal/testbin"
)

const (
	period   = 5 * time.Millisecond
	debounce = 20 * time.Millisecond
	// settled is enough scans for a change to pass the debounce window.
	settled = int(debounce/period) + 1
)

// rig is a Matrix on simulated pins and a fake clock.
type rig struct {
	t    *testing.T
	clk  *keypadtest.Clock
	pins *keypadtest.Pins
	m    *keypad.Matrix
	log  *testbin.Buffer
}

func newRig(t *testing.T, l keypad.Layout) *rig {
	t.Helper()
	r := &rig{t: t, clk: keypadtest.NewClock(), pins: keypadtest.NewPins(l), log: &testbin.Buffer{}}
	r.m = keypad.NewMatrix(r.pins, l, keypad.MatrixConfig{
		ScanPeriod: period,
		Debounce:   debounce,
		Clock:      r.clk,
		Logger:     slog.New(slog.NewTextHandler(r.log, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	t.Cleanup(func() {
		r.m.Stop()
		if bad := r.pins.Misuse(); len(bad) > 0 {
			t.Errorf("pins were misused: %v", bad)
		}
	})
	return r
}

func (r *rig) start() {
	r.t.Helper()
	if err := r.m.Start(); err != nil {
		r.t.Fatalf("Start: %v", err)
	}
}

// scan lets the scanner run n times, waiting for each scan to finish.
func (r *rig) scan(n int) {
	r.t.Helper()
	for i := 0; i < n; i++ {
		a := r.clk.Arms()
		r.clk.Advance(period)
		if err := r.clk.WaitArms(a + 1); err != nil {
			r.t.Fatal(err)
		}
	}
}

// keys returns the keys reported so far.
func (r *rig) keys() string {
	var b []byte
	for {
		select {
		case k := <-r.m.Keys():
			b = append(b, byte(k))
		default:
			return string(b)
		}
	}
}

func (r *rig) expect(want string) {
	r.t.Helper()
	if got := r.keys(); got != want {
		r.t.Errorf("keys = %q, want %q", got, want)
	}
}

func TestMatrixReportsEachKeyOnce(t *testing.T) {
	r := newRig(t, keypad.DefaultLayout)
	r.start()
	r.scan(settled)
	for _, k := range []keypad.Key{'1', 'A', '*', '0', '#', 'D', '5'} {
		r.pins.Down(k)
		r.scan(settled)
		r.pins.Up(k)
		r.scan(settled)
	}
	r.expect("1A*0#D5")
	if got := r.m.Kind(); got != "sim" {
		t.Errorf("Kind = %q, want sim", got)
	}
}

func TestMatrixHeldKeyReportsOnce(t *testing.T) {
	r := newRig(t, keypad.DefaultLayout)
	r.start()
	r.scan(settled)
	r.pins.Down('7')
	r.scan(200) // a second
	r.expect("7")
	r.pins.Up('7')
	r.scan(settled)
	r.pins.Down('7')
	r.scan(settled)
	r.expect("7")
}

func TestMatrixDebouncesBounce(t *testing.T) {
	r := newRig(t, keypad.DefaultLayout)
	r.start()
	r.scan(settled)
	bounce := func(k keypad.Key) {
		for i := 0; i < 6; i++ { // contact chatter, each state shorter than the debounce
			r.pins.Down(k)
			r.scan(1)
			r.pins.Up(k)
			r.scan(2)
		}
	}
	bounce('4')
	r.scan(settled)
	r.expect("") // chatter alone is no press
	bounce('4')
	r.pins.Down('4')
	r.scan(settled)
	r.expect("4")
	bounce('4') // chatter on release reports nothing more
	r.scan(settled)
	r.expect("")
	r.pins.Down('4')
	r.scan(settled - 2) // not held long enough
	r.pins.Up('4')
	r.scan(settled)
	r.expect("")
}

func TestMatrixTwoKeysAtOnce(t *testing.T) {
	r := newRig(t, keypad.DefaultLayout)
	r.start()
	r.scan(settled)

	// Hold 1, then press 2: only 1 counts, and 2 does not count when 1 goes up.
	r.pins.Down('1')
	r.scan(settled)
	r.pins.Down('2')
	r.scan(settled)
	r.pins.Up('1')
	r.scan(settled)
	r.expect("1")
	r.pins.Up('2')
	r.scan(settled)
	r.expect("")

	// Two keys together: nothing, not even when one of them is let go.
	r.pins.Down('3')
	r.pins.Down('6')
	r.scan(settled)
	r.pins.Up('3')
	r.scan(settled)
	r.pins.UpAll()
	r.scan(settled)
	r.expect("")

	// Three keys make a ghost fourth (5 with 1, 2 and 4): nothing either.
	r.pins.Down('1')
	r.pins.Down('2')
	r.pins.Down('4')
	r.scan(settled)
	r.pins.UpAll()
	r.scan(settled)
	r.expect("")

	// After all keys are up, the keypad works as before.
	r.pins.Down('5')
	r.scan(settled)
	r.expect("5")
}

func TestMatrixIgnoresKeyHeldAtStart(t *testing.T) {
	r := newRig(t, keypad.DefaultLayout)
	r.pins.Down('9')
	r.start()
	r.scan(3 * settled)
	r.expect("")
	r.pins.Up('9')
	r.scan(settled)
	r.pins.Down('9')
	r.scan(settled)
	r.expect("9")
}

func TestMatrixIdleAfterStop(t *testing.T) {
	before := runtime.NumGoroutine()
	r := newRig(t, keypad.DefaultLayout)
	if r.clk.Armed() != 0 || r.pins.Active() {
		t.Fatal("a new Matrix scans before Start")
	}
	for round := 0; round < 3; round++ {
		r.start()
		if !r.pins.Active() {
			t.Fatal("pins not set up after Start")
		}
		if err := r.m.Start(); !errors.Is(err, keypad.ErrStarted) {
			t.Errorf("second Start = %v, want ErrStarted", err)
		}
		r.scan(settled)
		r.pins.Down('8')
		r.scan(settled) // reported but never read
		r.pins.Up('8')
		r.m.Stop()
		r.m.Stop() // harmless

		if r.pins.Active() {
			t.Error("pins still claimed after Stop")
		}
		if n := r.clk.Armed(); n != 0 {
			t.Errorf("%d timers armed after Stop, want 0", n)
		}
		_, _, selects := r.pins.Counts()
		r.clk.Advance(time.Minute)
		time.Sleep(time.Millisecond) // give a stray scanner a chance to show itself
		if _, _, now := r.pins.Counts(); now != selects {
			t.Errorf("scanner touched the pins %d times after Stop", now-selects)
		}
		if k := r.keys(); k != "" {
			t.Error("keys pressed before Stop were kept")
		}
	}
	setups, releases, _ := r.pins.Counts()
	if setups != 3 || releases != 3 {
		t.Errorf("Setup %d times and Release %d times, want 3 and 3", setups, releases)
	}
	waitGoroutines(t, before)
}

// waitGoroutines fails the test unless the number of goroutines comes back
// down to want.
func waitGoroutines(t *testing.T, want int) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > want {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("%d goroutines left, want %d:\n%s", runtime.NumGoroutine(), want, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(time.Millisecond)
	}
}

func TestMatrixSetupFailure(t *testing.T) {
	r := newRig(t, keypad.DefaultLayout)
	boom := errors.New("no such GPIO")
	r.pins.Fail(boom)
	if err := r.m.Start(); !errors.Is(err, boom) {
		t.Fatalf("Start = %v, want %v", err, boom)
	}
	if r.clk.Armed() != 0 || r.pins.Active() {
		t.Error("a failed Start left the scanner or the pins running")
	}
	r.m.Stop() // nothing to stop
	r.pins.Fail(nil)
	r.start()
	r.scan(settled)
	r.pins.Down('2')
	r.scan(settled)
	r.expect("2")
}

func TestMatrixReadErrorsAreLoggedOnceAndRecovered(t *testing.T) {
	r := newRig(t, keypad.DefaultLayout)
	r.start()
	r.pins.Fail(errors.New("line went away"))
	r.scan(10)
	if n := strings.Count(r.log.String(), "line went away"); n != 1 {
		t.Errorf("read error logged %d times, want once:\n%s", n, r.log)
	}
	r.pins.Fail(nil)
	r.scan(settled)
	r.pins.Down('C')
	r.scan(settled)
	r.expect("C")
	if !strings.Contains(r.log.String(), "works again") {
		t.Errorf("recovery not logged:\n%s", r.log)
	}
}

func TestMatrixSmallLayout(t *testing.T) {
	l, err := keypad.ParseLayout("123/456/789/*0#")
	if err != nil {
		t.Fatal(err)
	}
	r := newRig(t, l)
	r.start()
	r.scan(settled)
	for _, k := range []keypad.Key{'#', '1', '0'} {
		r.pins.Down(k)
		r.scan(settled)
		r.pins.Up(k)
		r.scan(settled)
	}
	r.expect("#10")
}

// The real clock drives the scanner too; this is the one test that waits on it.
func TestMatrixRealClock(t *testing.T) {
	before := runtime.NumGoroutine()
	pins := keypadtest.NewPins(keypad.DefaultLayout)
	m := keypad.NewMatrix(pins, keypad.Layout{}, keypad.MatrixConfig{ScanPeriod: time.Millisecond, Debounce: 2 * time.Millisecond})
	if err := m.Start(); err != nil {
		t.Fatal(err)
	}
	// Let the scanner see the idle matrix for longer than the debounce (ten
	// scans of four rows and a release each), else '6' counts as held at start.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		if _, _, selects := pins.Counts(); selects >= 10*5 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the scanner does not scan")
		}
	}
	pins.Down('6')
	select {
	case k := <-m.Keys():
		if k != '6' {
			t.Errorf("got key %d, want 6", k)
		}
	case <-time.After(5 * time.Second):
		t.Error("no key within 5 s")
	}
	m.Stop()
	if bad := pins.Misuse(); len(bad) > 0 {
		t.Errorf("pins were misused: %v", bad)
	}
	waitGoroutines(t, before)
}

func TestMatrixString(t *testing.T) {
	r := newRig(t, keypad.HexLayout)
	if got := r.m.String(); !strings.Contains(got, "4x4") || !strings.Contains(got, "0FED") {
		t.Errorf("String = %q", got)
	}
}

func BenchmarkMatrixScan(b *testing.B) {
	clk := keypadtest.NewClock()
	pins := keypadtest.NewPins(keypad.DefaultLayout)
	m := keypad.NewMatrix(pins, keypad.DefaultLayout, keypad.MatrixConfig{Clock: clk, Logger: slog.New(slog.DiscardHandler)})
	if err := m.Start(); err != nil {
		b.Fatal(err)
	}
	defer m.Stop()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		a := clk.Arms()
		clk.Advance(keypad.DefaultScanPeriod)
		if err := clk.WaitArms(a + 1); err != nil {
			b.Fatal(err)
		}
	}
}
