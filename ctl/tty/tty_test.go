package tty

import (
	"fmt"
	"os"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here (/dev/ptmx: %v)", err)
	}
	t.Cleanup(func() { master.Close() })
	if err := unix.IoctlSetPointerInt(int(master.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(master.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	slave, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { slave.Close() })
	return master, slave
}

func TestKeysNoEchoAndRestore(t *testing.T) {
	master, slave := openPTY(t)
	fd := int(slave.Fd())
	if !IsTerminal(fd) {
		t.Fatal("a pty slave is not a terminal")
	}
	r, w, _ := os.Pipe()
	defer r.Close()
	defer w.Close()
	if IsTerminal(int(r.Fd())) {
		t.Fatal("a pipe is a terminal")
	}
	st, err := KeysNoEcho(fd)
	if err != nil {
		t.Fatal(err)
	}
	tio, _ := unix.IoctlGetTermios(fd, unix.TCGETS)
	if tio.Lflag&(unix.ECHO|unix.ICANON|unix.ISIG) != 0 {
		t.Fatalf("echo, canonical mode or signals still on: %#x", tio.Lflag)
	}
	// A key arrives at once, without Enter, and is not echoed.
	master.Write([]byte("7"))
	if !Readable(fd, 2*time.Second) {
		t.Fatal("the key did not arrive without Enter")
	}
	b := make([]byte, 1)
	if _, err := slave.Read(b); err != nil || b[0] != '7' {
		t.Fatalf("read %q, %v", b, err)
	}
	if Readable(int(master.Fd()), 50*time.Millisecond) {
		t.Fatal("the terminal echoed the key")
	}
	if err := st.Restore(); err != nil {
		t.Fatal(err)
	}
	tio, _ = unix.IoctlGetTermios(fd, unix.TCGETS)
	if tio.Lflag&unix.ECHO == 0 || tio.Lflag&unix.ICANON == 0 {
		t.Fatal("Restore did not bring back echo and line mode")
	}
}
