package tty

import (
	"io"
	"sync"

	"golang.org/x/sys/unix"
)

// LineMode is the raw mode a line editor (chzyer/readline, through its
// FuncMakeRaw and FuncExitRaw hooks) switches the terminal into while it
// reads a line, with one addition: it can leave the terminal without echo
// when that line ends, instead of going back to the terminal's own mode.
//
// That closes the gap in which a passcode typed ahead would be echoed: a
// touch typist types the user ID, Enter and the digits in one go, and the
// digits reach the terminal before pi2pictl has printed "Enter passcode on
// keypad." and started reading them. With HoldAfterLine set while the
// user ID is read, the terminal goes straight from raw mode to no-echo
// mode, so there is no moment in which the kernel would echo a digit.
// Release gives the terminal back its own mode.
type LineMode struct {
	fd int

	mu    sync.Mutex
	saved *unix.Termios // the terminal's own mode, while raw or quiet
	quiet bool          // held in no-echo mode
	hold  bool          // go quiet, not back, when the line ends
}

// NewLineMode returns the LineMode of the terminal fd.
func NewLineMode(fd int) *LineMode { return &LineMode{fd: fd} }

// Enter switches to raw mode (readline's FuncMakeRaw).
func (m *LineMode) Enter() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.save(); err != nil {
		return err
	}
	m.quiet = false
	raw := *m.saved
	raw.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
	raw.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	raw.Cflag &^= unix.CSIZE | unix.PARENB
	raw.Cflag |= unix.CS8
	raw.Cc[unix.VMIN] = 1
	raw.Cc[unix.VTIME] = 0
	return unix.IoctlSetTermios(m.fd, unix.TCSETS, &raw)
}

// Exit leaves raw mode (readline's FuncExitRaw): back to the terminal's
// own mode, or into no-echo mode when HoldAfterLine is set.
func (m *LineMode) Exit() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.saved == nil {
		return nil
	}
	if m.hold {
		return m.goQuiet()
	}
	return unix.IoctlSetTermios(m.fd, unix.TCSETS, m.saved)
}

// HoldAfterLine says whether the line being read is followed by a
// passcode: the terminal then stays without echo once the line ends.
func (m *LineMode) HoldAfterLine(on bool) {
	m.mu.Lock()
	m.hold = on
	m.mu.Unlock()
}

// Quiet switches echo off now (keys one at a time, as KeysNoEcho does),
// until Release. It does nothing when the terminal is quiet already.
func (m *LineMode) Quiet() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.quiet {
		return nil
	}
	if err := m.save(); err != nil {
		return err
	}
	return m.goQuiet()
}

// Release gives a quiet terminal back its own mode.
func (m *LineMode) Release() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.quiet {
		return nil
	}
	m.quiet = false
	return unix.IoctlSetTermios(m.fd, unix.TCSETS, m.saved)
}

// save records the terminal's own mode, unless the terminal is quiet (its
// own mode was recorded then).
func (m *LineMode) save() error {
	if m.quiet && m.saved != nil {
		return nil
	}
	t, err := unix.IoctlGetTermios(m.fd, unix.TCGETS)
	if err != nil {
		return err
	}
	m.saved = t
	return nil
}

func (m *LineMode) goQuiet() error {
	q := *m.saved
	q.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	q.Iflag &^= unix.IXON | unix.ICRNL | unix.INLCR | unix.IGNCR
	q.Cc[unix.VMIN] = 1
	q.Cc[unix.VTIME] = 0
	m.quiet = true
	return unix.IoctlSetTermios(m.fd, unix.TCSETS, &q)
}

// ByteReader reads at most one byte per Read. A line editor that buffers
// its input (readline reads through a bufio.Reader) then takes no more
// from the terminal than the line it reads: keys typed ahead stay in the
// terminal for whoever reads next (the passcode reader), and are not
// swallowed into the next prompt.
type ByteReader struct{ R io.Reader }

func (b ByteReader) Read(p []byte) (int, error) {
	if len(p) > 1 {
		p = p[:1]
	}
	return b.R.Read(p)
}
