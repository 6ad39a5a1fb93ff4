package cli

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/pi2pi/pi2pi/daemon/backend/backendtest"
	"golang.org/x/sys/unix"
)

// With a pipe on stdin (an *os.File), everything pi2pictl chat has read
// is sent, in order, before the end: at the end of stdin and on CTRL-C
// after the last byte was read.
func TestPumpSendsAllItReadBeforeEnd(t *testing.T) {
	for _, ending := range []string{"eof", "interrupt"} {
		t.Run(ending, func(t *testing.T) {
			ali, bianca := aliAndBianca(t, backendtest.Options{})
			b := waiting(t, bianca)
			pr, pw, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			defer pw.Close()
			r := startFile(t, ali, pr, "chat", "bianca")
			var want strings.Builder
			for i := range 3000 {
				fmt.Fprintf(&want, "line %d: %s\n", i, strings.Repeat("é", i%50))
			}
			want.WriteString("no newline at the end")
			r.waitFor(t, "Connection established, type your messages\n")
			if _, err := pw.Write([]byte(want.String())); err != nil {
				t.Fatal(err)
			}
			if ending == "eof" {
				pw.Close()
			} else {
				for {
					n, err := unix.IoctlGetInt(int(pw.Fd()), unix.TIOCINQ)
					if err != nil {
						t.Fatal(err)
					}
					if n == 0 {
						break
					}
					time.Sleep(time.Millisecond)
				}
				r.interrupts <- os.Interrupt
			}
			if code := r.wait(t); code != 0 {
				t.Fatalf("exit %d: %s", code, r.stderr.String())
			}
			// Bianca was shown it all, the last line completed at the end.
			b.ended(t)
			head := "Connection received from user ali, type your messages\n"
			got := strings.TrimSuffix(strings.TrimPrefix(b.stdout.String(), head), "\nConnection ended\n")
			if got != want.String() {
				t.Fatalf("bianca was shown %d bytes of the %d sent before the end", len(got), want.Len())
			}
			if n := strings.Count(r.stdout.String(), "Connection ended"); n != 1 {
				t.Fatalf("%d times Connection ended:\n%s", n, r.stdout.String())
			}
		})
	}
}

// startFile is start with stdin a file (a pipe's read end).
func startFile(t *testing.T, d *backendtest.Terminal, stdin *os.File, args ...string) *run {
	t.Helper()
	r := &run{code: make(chan int, 1), interrupts: make(chan os.Signal, 1)}
	stateDir := t.TempDir()
	r.env = &Env{
		Stdin: stdin, Stdout: &r.stdout, Stderr: &r.stderr,
		Getenv: func(k string) string {
			switch k {
			case "PI2PI_SOCKET":
				return d.Socket
			case "XDG_STATE_HOME":
				return stateDir
			}
			return ""
		},
		Interrupts: r.interrupts,
	}
	go func() { r.code <- Run(args, r.env) }()
	t.Cleanup(func() { stdin.Close() })
	return r
}
