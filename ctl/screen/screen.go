// Package screen serialises everything pi2pictl shows. One goroutine does
// all the writing, because chzyer/readline races when several goroutines
// write while it redraws the input line; lines printed while the person is
// typing appear above the input line, which readline then redraws intact.
package screen

import (
	"io"
	"strings"
	"sync"

	"github.com/chzyer/readline"
	"github.com/pi2pi/pi2pi/ctl/peertext"
)

// Display is where the screen goroutine writes. Print is given whole
// lines (ending in "\n").
type Display interface {
	Print(toStderr bool, text string)
	// Prompt shows p as the prompt of the line being read (or about to be).
	Prompt(p string)
	// Answered is called with a line read at a prompt that should appear
	// in the transcript (a user ID, not a passcode or chat text).
	Answered(line string)
}

// Failer is a Display that can tell that writing to stdout failed.
type Failer interface {
	// StdoutErr is the first write to stdout that failed, nil if none did.
	StdoutErr() error
}

// Screen queues output for its goroutine.
type Screen struct {
	d      Display
	ops    chan func()
	closed chan struct{}
	once   sync.Once

	mu  sync.Mutex
	err error // the display's StdoutErr, once it failed
}

// New starts the goroutine writing to d.
func New(d Display) *Screen {
	s := &Screen{d: d, ops: make(chan func(), 64), closed: make(chan struct{})}
	f, _ := d.(Failer)
	go func() {
		defer close(s.closed)
		for op := range s.ops {
			op()
			if f != nil {
				s.noteErr(f.StdoutErr())
			}
		}
	}()
	return s
}

func (s *Screen) noteErr(err error) {
	if err == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err == nil {
		s.err = err
	}
}

// Err is the first write to stdout that failed, nil if none did (or the
// display cannot tell). Once it failed, nothing more is written to
// stdout, so what stdout holds is a beginning of what was shown, without
// a hole. A write is known by Err once Flush (or Close) has returned.
func (s *Screen) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

func (s *Screen) do(op func()) { s.ops <- op }

// clean is the one place where whatever pi2pictl shows is made safe for
// the terminal: a line may hold strings from the network (refusal
// reasons, addresses, user IDs, server messages, key names) that came
// through pi2pid, and none of them may carry an escape sequence or a
// control character to the screen (peertext.Text).
func clean(s string) string { return peertext.Text(s) }

// Println prints a line on stdout.
func (s *Screen) Println(line string) { s.do(func() { s.d.Print(false, clean(line)+"\n") }) }

// Print prints text on stdout as it is, cleaned, without adding a line
// end (a script's chat text, chunk by chunk).
func (s *Screen) Print(text string) { s.do(func() { s.d.Print(false, clean(text)) }) }

// Errorln prints a line on stderr.
func (s *Screen) Errorln(line string) { s.do(func() { s.d.Print(true, clean(line)+"\n") }) }

// Prompt sets the prompt of the line being read.
func (s *Screen) Prompt(p string) { s.do(func() { s.d.Prompt(p) }) }

// Answered records a line read at a prompt in the transcript.
func (s *Screen) Answered(line string) { s.do(func() { s.d.Answered(clean(line)) }) }

// Do runs f on the screen goroutine, for other calls into readline that
// must not race with its redraws.
func (s *Screen) Do(f func()) { s.do(f) }

// Flush waits until everything queued so far is written.
func (s *Screen) Flush() {
	done := make(chan struct{})
	s.do(func() { close(done) })
	<-done
}

// Close writes what is queued and stops the goroutine.
func (s *Screen) Close() {
	s.once.Do(func() { close(s.ops) })
	<-s.closed
}

// Stdout returns a writer printing lines on stdout through the screen.
func (s *Screen) Stdout() io.Writer { return lineWriter{s, false} }

// Stderr returns a writer printing lines on stderr through the screen.
func (s *Screen) Stderr() io.Writer { return lineWriter{s, true} }

type lineWriter struct {
	s        *Screen
	toStderr bool
}

func (w lineWriter) Write(p []byte) (int, error) {
	text := clean(string(p))
	if !strings.HasSuffix(text, "\n") {
		text += "\n"
	}
	w.s.do(func() { w.s.d.Print(w.toStderr, text) })
	return len(p), nil
}

// Plain is a Display for pipes: prompts are written as they are and the
// answer read at one is written after it, so a scripted session reads
// like the course handout's transcript.
//
// A write to Stdout that fails (a full disk, /dev/full, an I/O error) is
// kept (StdoutErr), and nothing more is written to Stdout after it. A
// failed write to Stderr has nowhere to be told.
type Plain struct {
	Stdout, Stderr io.Writer
	dangling       bool  // a prompt is on stdout without its line end
	failed         error // the first write to Stdout that failed
}

// out writes s to Stdout unless a write to it failed before.
func (p *Plain) out(s string) {
	if p.failed != nil {
		return
	}
	if _, err := io.WriteString(p.Stdout, s); err != nil {
		p.failed = err
	}
}

// StdoutErr implements Failer.
func (p *Plain) StdoutErr() error { return p.failed }

// Print implements Display.
func (p *Plain) Print(toStderr bool, text string) {
	if toStderr {
		_, _ = io.WriteString(p.Stderr, text)
		return
	}
	if p.dangling {
		p.out("\n")
		p.dangling = false
	}
	p.out(text)
}

// Prompt implements Display.
func (p *Plain) Prompt(prompt string) {
	if p.dangling {
		p.out("\n")
		p.dangling = false
	}
	if prompt != "" {
		p.out(prompt)
		p.dangling = true
	}
}

// Answered implements Display.
func (p *Plain) Answered(line string) {
	if p.dangling {
		p.out(line + "\n")
		p.dangling = false
	}
}

// Readline is a Display for a terminal driven by chzyer/readline.
type Readline struct {
	RL *readline.Instance
}

// Print implements Display: readline clears the input line, writes text
// and redraws the prompt with what the person had typed.
func (r Readline) Print(toStderr bool, text string) {
	if toStderr {
		r.RL.Stderr().Write([]byte(text))
		return
	}
	r.RL.Stdout().Write([]byte(text))
}

// Prompt implements Display.
func (r Readline) Prompt(p string) {
	r.RL.SetPrompt(p)
	r.RL.Refresh()
}

// Answered implements Display; readline has already echoed the line.
func (r Readline) Answered(string) {}
