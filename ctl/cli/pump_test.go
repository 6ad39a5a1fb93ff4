package cli

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/pi2pi/pi2pi/ctl/daemontest"
	"golang.org/x/sys/unix"
)

// With a pipe on stdin (an *os.File), everything pi2pictl chat has read
// is sent, in order, before the end: at the end of stdin and on CTRL-C
// after the last byte was read.
func TestPumpSendsAllItReadBeforeEnd(t *testing.T) {
	for _, ending := range []string{"eof", "interrupt"} {
		t.Run(ending, func(t *testing.T) {
			d := daemontest.Start(t, daemontest.Options{LoggedInAs: "ali"})
			pr, pw, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			defer pw.Close()
			r := startFile(t, d, pr, "chat", "bianca")
			var want strings.Builder
			for i := range 3000 {
				fmt.Fprintf(&want, "line %d: %s\n", i, strings.Repeat("é", i%50))
			}
			want.WriteString("no newline at the end")
			got := make(chan string)
			go func() {
				var b strings.Builder
				for {
					s := d.NextSent(t)
					if s == "<end>" {
						got <- b.String()
						return
					}
					b.WriteString(s)
				}
			}()
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
			if s := <-got; s != want.String() {
				t.Fatalf("sent %d bytes before the end, read %d", len(s), want.Len())
			}
			if code := r.wait(t); code != 0 {
				t.Fatalf("exit %d: %s", code, r.stderr.String())
			}
			if n := strings.Count(r.stdout.String(), "Connection ended"); n != 1 {
				t.Fatalf("%d times Connection ended:\n%s", n, r.stdout.String())
			}
		})
	}
}

// startFile is start with stdin a file (a pipe's read end).
func startFile(t *testing.T, d *daemontest.Daemon, stdin *os.File, args ...string) *run {
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
