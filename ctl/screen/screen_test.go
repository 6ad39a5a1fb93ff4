package screen

import (
	"strings"
	"sync"
	"testing"
)

func TestPlainTranscript(t *testing.T) {
	var out, errb strings.Builder
	s := New(&Plain{Stdout: &out, Stderr: &errb})
	s.Prompt("Login: ")
	s.Answered("ali")
	s.Println("Enter passcode on keypad.")
	s.Println("Logged in.")
	s.Prompt("Enter destination user ID: ")
	s.Errorln("note")
	s.Println("Connection received from user bianca, type your messages")
	s.Prompt("")
	s.Close()
	want := "Login: ali\nEnter passcode on keypad.\nLogged in.\nEnter destination user ID: \nConnection received from user bianca, type your messages\n"
	if out.String() != want {
		t.Fatalf("stdout:\n%q\nwant\n%q", out.String(), want)
	}
	if errb.String() != "note\n" {
		t.Fatalf("stderr = %q", errb.String())
	}
}

// recorder checks that Display calls never overlap.
type recorder struct {
	mu    sync.Mutex
	lines []string
	t     *testing.T
}

func (r *recorder) Print(_ bool, text string) {
	if !r.mu.TryLock() {
		r.t.Error("concurrent Print")
		return
	}
	defer r.mu.Unlock()
	r.lines = append(r.lines, text)
}
func (r *recorder) Prompt(string)   {}
func (r *recorder) Answered(string) {}

func TestOneWriter(t *testing.T) {
	r := &recorder{t: t}
	s := New(r)
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 50; j++ {
				s.Println("x")
				s.Stderr().Write([]byte("y"))
			}
		}()
	}
	wg.Wait()
	s.Flush()
	if len(r.lines) != 800 {
		t.Fatalf("got %d lines, want 800", len(r.lines))
	}
	s.Close()
}
