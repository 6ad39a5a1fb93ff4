package tty

import (
	"bytes"
	"testing"

	"golang.org/x/sys/unix"
)

func lflag(t *testing.T, fd int) uint32 {
	t.Helper()
	tio, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	return tio.Lflag
}

// TestLineModeHoldsEchoOff: with HoldAfterLine set, leaving raw mode goes
// straight to no-echo mode, never through the terminal's own (echoing)
// mode; Release brings echo back, and without the hold Exit restores it.
func TestLineModeHoldsEchoOff(t *testing.T) {
	_, slave := openPTY(t)
	fd := int(slave.Fd())
	own := lflag(t, fd)
	if own&unix.ECHO == 0 {
		t.Skip("the pseudo-terminal does not echo to begin with")
	}
	m := NewLineMode(fd)

	// A line without the hold: back to the terminal's own mode.
	if err := m.Enter(); err != nil {
		t.Fatal(err)
	}
	if lflag(t, fd)&(unix.ECHO|unix.ICANON) != 0 {
		t.Fatal("raw mode echoes")
	}
	if err := m.Exit(); err != nil {
		t.Fatal(err)
	}
	if lflag(t, fd) != own {
		t.Fatalf("after a line: lflag %#x, want %#x", lflag(t, fd), own)
	}

	// A user ID line: echo stays off after it.
	m.HoldAfterLine(true)
	_ = m.Enter()
	_ = m.Exit()
	if lflag(t, fd)&unix.ECHO != 0 {
		t.Fatal("echo came back after a held line")
	}
	// The passcode reader saves and restores the quiet mode: still quiet.
	st, err := KeysNoEcho(fd)
	if err != nil {
		t.Fatal(err)
	}
	_ = st.Restore()
	if lflag(t, fd)&unix.ECHO != 0 {
		t.Fatal("echo came back after the passcode reader")
	}
	// The next line starts from the terminal's own mode, not the quiet one.
	m.HoldAfterLine(false)
	_ = m.Enter()
	_ = m.Exit()
	if lflag(t, fd) != own {
		t.Fatalf("after the next line: lflag %#x, want %#x", lflag(t, fd), own)
	}
	// Quiet and Release, as before a prompt.
	if err := m.Quiet(); err != nil {
		t.Fatal(err)
	}
	if lflag(t, fd)&unix.ECHO != 0 {
		t.Fatal("Quiet left echo on")
	}
	if err := m.Release(); err != nil {
		t.Fatal(err)
	}
	if lflag(t, fd) != own {
		t.Fatalf("after Release: lflag %#x, want %#x", lflag(t, fd), own)
	}
}

// TestByteReaderTakesOneByte: a line editor reading through ByteReader
// leaves the rest of the input in the terminal.
func TestByteReaderTakesOneByte(t *testing.T) {
	r := ByteReader{R: bytes.NewReader([]byte("ali\r1234\r"))}
	buf := make([]byte, 4096)
	n, err := r.Read(buf)
	if n != 1 || err != nil || buf[0] != 'a' {
		t.Fatalf("Read = %d, %v (%q)", n, err, buf[:n])
	}
}
