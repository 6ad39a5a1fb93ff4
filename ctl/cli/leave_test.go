package cli

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/pi2pi/pi2pi/daemon/backend/backendtest"
	"github.com/pi2pi/pi2pi/internal/control"
	"github.com/pi2pi/pi2pi/internal/control/controltest"
)

// A second CTRL-C while a chat is ending leaves at once (README), and
// says so: "Connection ended" closes the chat on stdout, stderr tells
// that the peer may not have taken everything, and the exit code is 1.
// Bianca here takes the chat and never ends her side, so our end waits
// for her for good.
func TestSecondInterruptLeavesAnEndingChat(t *testing.T) {
	for _, typed := range []bool{false, true} {
		name := map[bool]string{false: "file", true: "typed"}[typed]
		t.Run(name, func(t *testing.T) {
			ali, biancaTm := aliAndBianca(t, backendtest.Options{})
			bianca := controltest.Attach(t, biancaTm.Socket)
			bianca.Must(control.Request{Op: control.OpWait})
			var r *run
			if typed {
				r = start(t, ali, "chat", "bianca")
			} else {
				pr, pw, err := os.Pipe()
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { pw.Close() })
				r = startFile(t, ali, pr, "chat", "bianca")
				if _, err := pw.Write([]byte("some text\n")); err != nil {
					t.Fatal(err)
				}
			}
			r.waitFor(t, "Connection established")
			bianca.NextRaw(control.EventChatStart, control.EventChatEnd)
			if typed {
				r.type_("some text\n")
			}
			bianca.ReadText("some text\n")
			r.interrupts <- os.Interrupt
			// Our side has ended: bianca is asked to end hers, and does not.
			bianca.NextRaw(control.EventChatEnding, control.EventChatEnd)
			r.interrupts <- os.Interrupt
			if code := r.wait(t); code != 1 {
				t.Fatalf("exit %d, want 1\nstdout %q\nstderr %q", code, r.stdout.String(), r.stderr.String())
			}
			if out := r.stdout.String(); !strings.HasSuffix(out, "\nConnection ended\n") || strings.Count(out, "Connection ended") != 1 {
				t.Errorf("stdout %q, want it to end with one Connection ended", out)
			}
			if got, want := r.stderr.String(), "pi2pictl: "+leftEndingMsg("bianca")+"\n"; got != want {
				t.Errorf("stderr %q, want %q", got, want)
			}
		})
	}
}

// A chat whose stdin has ended is ending already (our side is done) while
// a slow peer takes the text: the first CTRL-C then still only ends
// politely, waiting for the peer; the second leaves.
func TestFirstInterruptAfterStdinEndedWaits(t *testing.T) {
	ali, biancaTm := aliAndBianca(t, backendtest.Options{})
	bianca := controltest.Attach(t, biancaTm.Socket)
	bianca.Must(control.Request{Op: control.OpWait})
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	r := startFile(t, ali, pr, "chat", "bianca")
	if _, err := pw.Write([]byte("some text\n")); err != nil {
		t.Fatal(err)
	}
	pw.Close() // stdin ends: our side ends after the text
	r.waitFor(t, "Connection established")
	bianca.NextRaw(control.EventChatStart, control.EventChatEnd)
	bianca.ReadText("some text\n")
	bianca.NextRaw(control.EventChatEnding, control.EventChatEnd)
	r.interrupts <- os.Interrupt
	select {
	case code := <-r.code:
		t.Fatalf("the first CTRL-C left (exit %d); stderr %q", code, r.stderr.String())
	case <-time.After(300 * time.Millisecond):
	}
	r.interrupts <- os.Interrupt
	if code := r.wait(t); code != 1 {
		t.Fatalf("exit %d, want 1; stderr %q", code, r.stderr.String())
	}
	if got, want := r.stderr.String(), "pi2pictl: "+leftEndingMsg("bianca")+"\n"; got != want {
		t.Errorf("stderr %q, want %q", got, want)
	}
}
