package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/pi2pi/pi2pi/ctl/screen"
)

// testEngine is an engine at phase p that writes to buffers; it has no
// daemon, which the commands tested here do not use.
func testEngine(p phase) (*engine, *bytes.Buffer, *bytes.Buffer) {
	var out, errOut bytes.Buffer
	e := &engine{transcript: transcript{flow: flowShell, phase: p}, recent: &recentUsers{}}
	e.out = screen.New(&screen.Plain{Stdout: &out, Stderr: &errOut})
	return e, &out, &errOut
}

func TestSlashQuitAndExit(t *testing.T) {
	for _, line := range []string{"/quit", "/exit", " /quit now"} {
		e, _, _ := testEngine(phDest)
		e.userIDLine(line, "")
		if !e.done || e.exit != nil {
			t.Errorf("%q: done %v, exit %v; want the shell to end with exit 0", line, e.done, e.exit)
		}
	}
}

func TestSlashChatRefusals(t *testing.T) {
	tests := []struct {
		phase phase
		line  string
		want  string
	}{
		{phLogin, "/chat bianca", "log in first"},
		{phDest, "/chat", "/chat takes one user ID"},
		{phDest, "/chat bianca carol", "/chat takes one user ID"},
		{phDest, "/chat no/such", "is not a user ID"},
		{phDest, "/frobnicate", "unknown command /frobnicate"},
	}
	for _, tt := range tests {
		e, _, errOut := testEngine(tt.phase)
		e.userIDLine(tt.line, "")
		e.out.Close()
		if e.done || e.phase != tt.phase || !strings.Contains(errOut.String(), tt.want) {
			t.Errorf("%q: done %v, phase %v, stderr %q; want %q", tt.line, e.done, e.phase, errOut.String(), tt.want)
		}
	}
}

func TestSlashHelpListsQuitOnce(t *testing.T) {
	var out bytes.Buffer
	inv := &Invocation{Out: screen.New(&screen.Plain{Stdout: &out, Stderr: &out}), shell: true}
	if err := helpCmd.Run(context.Background(), inv); err != nil {
		t.Fatal(err)
	}
	inv.Out.Close()
	for _, name := range []string{"/chat <USERID>", "/quit"} {
		if n := strings.Count(out.String(), "  "+name+" "); n != 1 {
			t.Errorf("/help lists %s %d times:\n%s", name, n, out.String())
		}
	}
	c := &completer{recent: &recentUsers{}}
	c.mode.Store(completeDest)
	got, n := c.Do([]rune("/q"), 2)
	if n != 2 || len(got) != 1 || string(got[0]) != "uit " {
		t.Errorf("completing /q: %q, %d", got, n)
	}
}
