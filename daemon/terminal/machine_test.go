package terminal

import (
	"bytes"
	"errors"
	"log/slog"
	"os"
	"strings"
	"testing"
)

// reach drives a fresh machine to s along a path of allowed transitions.
func reach(t *testing.T, m *Machine, s State) {
	t.Helper()
	paths := map[State][]State{
		LoggedOut:       {},
		ReadingPasscode: {ReadingPasscode},
		Authenticating:  {ReadingPasscode, Authenticating},
		LoggedIn:        {ReadingPasscode, Authenticating, LoggedIn},
		LookingUp:       {ReadingPasscode, Authenticating, LoggedIn, LookingUp},
		Connecting:      {ReadingPasscode, Authenticating, LoggedIn, LookingUp, Connecting},
		AwaitingReply:   {ReadingPasscode, Authenticating, LoggedIn, LookingUp, Connecting, AwaitingReply},
		Verifying:       {ReadingPasscode, Authenticating, LoggedIn, Verifying},
		Chatting:        {ReadingPasscode, Authenticating, LoggedIn, Verifying, Chatting},
	}
	cur := LoggedOut
	for _, next := range paths[s] {
		if err := m.Transition(cur, next, Labels{UserID: "ali", Peer: "bianca"}); err != nil {
			t.Fatalf("reaching %s: %v", s, err)
		}
		cur = next
	}
}

func TestEveryTransition(t *testing.T) {
	for _, e := range Table {
		t.Run(e.From.String()+"->"+e.To.String(), func(t *testing.T) {
			var got []Change
			var logs bytes.Buffer
			m := NewMachine(slog.New(slog.NewTextHandler(&logs, nil)), func(c Change) { got = append(got, c) })
			reach(t, m, e.From)
			got = nil
			logs.Reset()
			if err := m.Transition(e.From, e.To, Labels{}); err != nil {
				t.Fatalf("Transition: %v", err)
			}
			if s, _, _ := m.State(); s != e.To {
				t.Fatalf("state = %s, want %s", s, e.To)
			}
			if len(got) != 1 || got[0].From != e.From || got[0].To != e.To {
				t.Fatalf("notified %+v", got)
			}
			want := "state " + e.From.String() + " -> " + e.To.String()
			if !strings.Contains(logs.String(), want) || !strings.Contains(logs.String(), "STATE="+e.To.String()) {
				t.Fatalf("log %q lacks %q and the STATE field", logs.String(), want)
			}
		})
	}
}

func TestRefusedTransitions(t *testing.T) {
	for _, from := range States() {
		for _, to := range States() {
			if Allowed(from, to) {
				continue
			}
			m := NewMachine(slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil)), nil)
			reach(t, m, from)
			m.notify = func(Change) { t.Errorf("%s -> %s: observer called for a refused transition", from, to) }
			err := m.Transition(from, to, Labels{})
			var te *ErrTransition
			if !errors.As(err, &te) {
				t.Fatalf("%s -> %s: err = %v, want *ErrTransition", from, to, err)
			}
			if s, _, _ := m.State(); s != from {
				t.Fatalf("%s -> %s: state moved to %s", from, to, s)
			}
		}
	}
}

func TestTransitionFromWrongState(t *testing.T) {
	m := NewMachine(slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil)), nil)
	reach(t, m, LoggedIn)
	// Two racing requests: the second one's From no longer holds.
	if err := m.Transition(LoggedIn, LookingUp, Labels{Peer: "bianca"}); err != nil {
		t.Fatal(err)
	}
	err := m.Transition(LoggedIn, Verifying, Labels{Peer: "carol"})
	if err == nil || !strings.Contains(err.Error(), "state is looking-up") {
		t.Fatalf("err = %v", err)
	}
	if _, _, peer := m.State(); peer != "bianca" {
		t.Fatalf("peer = %q after a refused transition", peer)
	}
}

func TestLabels(t *testing.T) {
	m := NewMachine(slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil)), nil)
	reach(t, m, Chatting)
	if _, u, p := m.State(); u != "ali" || p != "bianca" {
		t.Fatalf("user %q peer %q", u, p)
	}
	_ = m.Transition(Chatting, LoggedIn, Labels{})
	if _, u, p := m.State(); u != "ali" || p != "" {
		t.Fatalf("after chat: user %q peer %q", u, p)
	}
	_ = m.Transition(LoggedIn, LoggedOut, Labels{})
	if _, u, _ := m.State(); u != "" {
		t.Fatalf("after logout: user %q", u)
	}
}

func TestEveryStateReachableAndNamed(t *testing.T) {
	for _, s := range States() {
		if n, ok := ParseState(s.String()); !ok || n != s {
			t.Errorf("ParseState(%q) = %v, %v", s, n, ok)
		}
		if Words(s, "ali", "bianca") == "" {
			t.Errorf("no words for %s", s)
		}
		in := s == LoggedOut
		for _, e := range Table {
			in = in || e.To == s
		}
		if !in {
			t.Errorf("state %s has no way in", s)
		}
	}
	if State(99).String() != "invalid" {
		t.Error("out-of-range state has a name")
	}
}

func TestStatechartIsCurrent(t *testing.T) {
	got, err := os.ReadFile("../../docs/statechart.md")
	if err != nil {
		t.Fatalf("reading the committed chart: %v (run: go generate ./daemon/terminal)", err)
	}
	if string(got) != Mermaid() {
		t.Fatal("docs/statechart.md is stale: run `go generate ./daemon/terminal` and commit it")
	}
}
