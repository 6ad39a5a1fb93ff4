package terminal

import (
	"bytes"
	"errors"
	"log/slog"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// chat stands for the backend's chat handle.
type chat struct{ _ byte } // not zero-sized: each &chat{} is a new pointer

type testMachine = Machine[*chat]

// paths reach every state from LoggedOut along Table's edges.
var paths = map[State][]Event{
	LoggedOut:       {},
	ReadingPasscode: {EvLogin},
	Authenticating:  {EvLogin, EvPasscode},
	LoggedIn:        {EvLogin, EvPasscode, EvGranted},
	LookingUp:       {EvLogin, EvPasscode, EvGranted, EvChat},
	Connecting:      {EvLogin, EvPasscode, EvGranted, EvChat, EvFound},
	AwaitingReply:   {EvLogin, EvPasscode, EvGranted, EvChat, EvFound, EvConnected},
	Verifying:       {EvLogin, EvPasscode, EvGranted, EvConnectReq},
	Chatting:        {EvLogin, EvPasscode, EvGranted, EvConnectReq, EvVerified},
	LoggingOut:      {EvLogin, EvPasscode, EvGranted, EvLogout},
}

// counter is a cancel that counts its calls.
type counter struct {
	mu sync.Mutex
	n  int
}

func (c *counter) f() { c.mu.Lock(); c.n++; c.mu.Unlock() }
func (c *counter) calls() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

// full is ev with everything an event may bring: ali logging in, bianca
// as the peer, a fresh chat (or the one held, for EvChatOver), cancels.
func full(m *testMachine, ev Event, cancel, keep *counter) Input[*chat] {
	in := Input[*chat]{Event: ev, User: "ali", Peer: "bianca", Cancel: cancel.f, Keepalive: keep.f, Chat: &chat{}}
	if ev == EvChatOver {
		in.Chat = m.Snapshot().Chat
	}
	in.SetUp = m.Snapshot().SetUp
	return in
}

// reach drives a fresh machine to s; it returns the login's cancel and the
// keepalive's stop it handed over.
func reach(t *testing.T, m *testMachine, s State) (cancel, keep *counter) {
	t.Helper()
	cancel, keep = &counter{}, &counter{}
	for _, ev := range paths[s] {
		in := full(m, ev, cancel, keep)
		if ev != EvLogin {
			in.Cancel = nil
		}
		if ev != EvGranted {
			in.Keepalive = nil
		}
		eff, err := m.Step(in)
		eff.Do()
		if err != nil || !eff.Moved {
			t.Fatalf("reaching %s: %s: %v", s, ev, err)
		}
	}
	if got := m.Snapshot().State; got != s {
		t.Fatalf("reached %s, want %s", got, s)
	}
	return cancel, keep
}

// checkInvariant: a chat exists exactly when the state is Chatting, and
// the names fit the state.
func checkInvariant(t *testing.T, snap Snapshot[*chat]) {
	t.Helper()
	if (snap.Chat != nil) != (snap.State == Chatting) {
		t.Fatalf("state %s with chat %v", snap.State, snap.Chat)
	}
	if (snap.User == "") != (snap.State == LoggedOut) {
		t.Fatalf("state %s with user %q", snap.State, snap.User)
	}
	hasPeer := snap.State >= LookingUp && snap.State != LoggingOut
	if (snap.Peer != "") != hasPeer {
		t.Fatalf("state %s with peer %q", snap.State, snap.Peer)
	}
}

func newTestMachine(logs *bytes.Buffer, notify func(Change)) *testMachine {
	return NewMachine[*chat](slog.New(slog.NewTextHandler(logs, nil)), notify)
}

// Every (state, event) pair: the state moves only along Table's edges,
// every edge of Table is taken, the observer and the log see each move,
// the chat exists exactly in Chatting, and every cancel handed over is
// either kept or handed back.
func TestEveryStateAndEvent(t *testing.T) {
	for _, s := range States() {
		for _, ev := range Events() {
			var got []Change
			var logs bytes.Buffer
			m := newTestMachine(&logs, func(c Change) { got = append(got, c) })
			loginCancel, keep := reach(t, m, s)
			m.Announce()
			held := m.Snapshot().Chat
			loginBefore, keepBefore := loginCancel.calls(), keep.calls()
			got, logs = nil, bytes.Buffer{}
			cancel, keep2 := &counter{}, &counter{}
			eff, err := m.Step(full(m, ev, cancel, keep2))
			eff.Do()
			m.Announce() // the move into verifying waits for it
			snap := m.Snapshot()
			checkInvariant(t, snap)
			to, edge := Next(s, ev)
			switch {
			case edge && (err != nil || !eff.Moved || snap.State != to):
				t.Errorf("%s on %s: state %s (err %v), want the edge to %s", s, ev, snap.State, err, to)
			case !edge && (eff.Moved || snap.State != s || len(got) != 0):
				t.Errorf("%s on %s: moved to %s, no such edge", s, ev, snap.State)
			case edge && (len(got) != 1 || got[0].From != s || got[0].To != to || got[0].Event != ev):
				t.Errorf("%s on %s: observer saw %+v", s, ev, got)
			case edge && !strings.Contains(logs.String(), "state "+s.String()+" -> "+to.String()):
				t.Errorf("%s on %s: log %q lacks the move", s, ev, logs.String())
			}
			if edge && got[0].HasChat != (to == Chatting) {
				t.Errorf("%s on %s: observer's HasChat %v", s, ev, got[0].HasChat)
			}
			// Handed over: the new cancel is kept only by the login's
			// step, the new stop only by the step into logged-in.
			keptCancel := edge && (ev == EvLogin || ev == EvChat || ev == EvConnectReq)
			keptStop := edge && ev == EvGranted
			if (cancel.calls() == 0) != keptCancel || (keep2.calls() == 0) != keptStop {
				t.Errorf("%s on %s: handed-over cancel called %d, stop %d", s, ev, cancel.calls(), keep2.calls())
			}
			// Held: the pending login is cancelled when its entry ends
			// or a logout or shutdown abandons it; the keepalive stops
			// when the terminal logs out.
			wantLogin := s == ReadingPasscode && (edge || ev == EvLogout || ev == EvShutdown)
			if (loginCancel.calls() > loginBefore) != wantLogin {
				t.Errorf("%s on %s: pending login cancelled %d times", s, ev, loginCancel.calls())
			}
			if (keep.calls() > keepBefore) != (edge && to == LoggedOut && (s == LoggedIn || s == LoggingOut)) {
				t.Errorf("%s on %s: keepalive stopped %d times", s, ev, keep.calls())
			}
			wantEnd := s == Chatting && (ev == EvLogout || ev == EvServerForgot || ev == EvShutdown)
			if (eff.EndChat != nil) != wantEnd || (wantEnd && eff.EndChat != held) {
				t.Errorf("%s on %s: EndChat %v", s, ev, eff.EndChat)
			}
			var se *ErrState
			if err != nil && !errors.As(err, &se) {
				t.Errorf("%s on %s: err %v", s, ev, err)
			}
		}
	}
}

// A chat set-up's cancel is kept while the set-up runs and called only
// when a logout or shutdown abandons it (issue: a logout racing a set-up).
func TestLogoutAbandonsTheSetUp(t *testing.T) {
	for _, start := range []State{LoggedIn, LookingUp, Connecting, AwaitingReply, Verifying} {
		for _, ev := range []Event{EvLogout, EvShutdown} {
			m := newTestMachine(&bytes.Buffer{}, nil)
			reach(t, m, LoggedIn)
			setup := &counter{}
			steps := map[State][]Event{LookingUp: {EvChat}, Connecting: {EvChat, EvFound},
				AwaitingReply: {EvChat, EvFound, EvConnected}, Verifying: {EvConnectReq}}[start]
			for i, e := range steps {
				in := Input[*chat]{Event: e, Peer: "bianca", SetUp: m.Snapshot().SetUp}
				if i == 0 {
					in.Cancel = setup.f
				}
				eff, err := m.Step(in)
				eff.Do()
				if err != nil || setup.calls() != 0 {
					t.Fatalf("%s: %v, set-up cancelled %d times", e, err, setup.calls())
				}
			}
			eff, err := m.Step(Input[*chat]{Event: ev})
			eff.Do()
			if err != nil || !eff.Moved || eff.To != LoggingOut {
				t.Fatalf("%s on %s: %+v, %v; want logging-out", start, ev, eff, err)
			}
			if want := min(len(steps), 1); setup.calls() != want {
				t.Errorf("%s on %s: set-up cancelled %d times, want %d", start, ev, setup.calls(), want)
			}
			// The abandoned set-up's outcomes are refused, and no chat
			// begins, even once a new set-up runs.
			old := m.Snapshot().SetUp
			lates := []Event{EvFound, EvAccepted, EvVerified, EvNotVerified, EvLookupFailed}
			for _, late := range append(lates, EvChat, EvConnectReq) {
				if eff, err := m.Step(Input[*chat]{Event: late, Peer: "bianca", Chat: &chat{}, SetUp: old}); err == nil || eff.Moved {
					t.Errorf("%s on %s, then %s: taken", start, ev, late)
				}
			}
			if eff, err := m.Step(Input[*chat]{Event: EvSignedOff}); err != nil || eff.To != LoggedOut {
				t.Errorf("%s on %s, then signed off: %+v, %v", start, ev, eff, err)
			}
			reach(t, m, LoggedIn)
			for _, next := range []Event{EvChat, EvConnectReq} {
				eff, err := m.Step(Input[*chat]{Event: next, Peer: "carol"})
				if err != nil || eff.SetUp == old {
					t.Fatalf("a new set-up: %+v, %v", eff, err)
				}
				for _, late := range lates {
					if eff, err := m.Step(Input[*chat]{Event: late, Chat: &chat{}, SetUp: old}); err == nil || eff.Moved {
						t.Errorf("%s on %s, then a new set-up, then the old one's %s: taken", start, ev, late)
					}
				}
				out := map[Event]Event{EvChat: EvLookupFailed, EvConnectReq: EvNotVerified}[next]
				if eff, err := m.Step(Input[*chat]{Event: out, SetUp: eff.SetUp}); err != nil || eff.To != LoggedIn {
					t.Errorf("the new set-up's outcome: %+v, %v", eff, err)
				}
			}
		}
	}
	// A set-up that ends by itself leaves its cancel to its owner.
	m := newTestMachine(&bytes.Buffer{}, nil)
	reach(t, m, LoggedIn)
	setup := &counter{}
	for _, e := range []Event{EvChat, EvFound, EvUnreachable, EvLogout} {
		in := Input[*chat]{Event: e, Peer: "bianca", SetUp: m.Snapshot().SetUp}
		if e == EvChat {
			in.Cancel = setup.f
		}
		eff, err := m.Step(in)
		eff.Do()
		if err != nil {
			t.Fatal(err)
		}
	}
	if setup.calls() != 0 {
		t.Errorf("an ended set-up's cancel was called %d times", setup.calls())
	}
}

// The move into verifying is announced with the next step (its outcome),
// or by Announce; in order either way.
func TestVerifyingAnnouncedWithItsOutcome(t *testing.T) {
	for _, outcome := range []Event{EvVerified, EvNotVerified} {
		var got []Change
		var logs bytes.Buffer
		m := newTestMachine(&logs, func(c Change) { got = append(got, c) })
		reach(t, m, LoggedIn)
		got = nil
		if _, err := m.Step(Input[*chat]{Event: EvConnectReq, Peer: "bianca"}); err != nil {
			t.Fatal(err)
		}
		if len(got) != 0 || strings.Contains(logs.String(), "-> verifying") {
			t.Fatalf("the move into verifying was announced before its outcome: %+v", got)
		}
		if s := m.Snapshot().State; s != Verifying {
			t.Fatalf("state %s, want verifying", s)
		}
		if _, err := m.Step(Input[*chat]{Event: outcome, Chat: &chat{}, SetUp: m.Snapshot().SetUp}); err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 || got[0].To != Verifying || got[1].From != Verifying || got[1].Event != outcome {
			t.Fatalf("announced %+v", got)
		}
		if i, j := strings.Index(logs.String(), "-> verifying"), strings.Index(logs.String(), "verifying ->"); i < 0 || j < i {
			t.Fatalf("log out of order: %q", logs.String())
		}
	}
	m := newTestMachine(&bytes.Buffer{}, nil)
	var n int
	m.notify = func(Change) { n++ }
	reach(t, m, Verifying)
	n = 0 // the moves before verifying
	m.Announce()
	m.Announce()
	if n != 1 {
		t.Fatalf("Announce told the observer %d times, want once", n)
	}
}

func TestChatWithSelfRefused(t *testing.T) {
	m := newTestMachine(&bytes.Buffer{}, nil)
	reach(t, m, LoggedIn)
	eff, err := m.Step(Input[*chat]{Event: EvChat, Peer: "ali"})
	if !errors.Is(err, ErrSelf) || eff.Moved {
		t.Fatalf("chat with self: %v, moved %v", err, eff.Moved)
	}
}

func TestOtherChatsEndIgnored(t *testing.T) {
	m := newTestMachine(&bytes.Buffer{}, nil)
	reach(t, m, Chatting)
	if eff, err := m.Step(Input[*chat]{Event: EvChatOver, Chat: &chat{}}); err == nil || eff.Moved {
		t.Fatalf("another chat's end moved the state: %v", err)
	}
	if eff, err := m.Step(Input[*chat]{Event: EvChatOver}); err == nil || eff.Moved {
		t.Fatalf("an end without a chat moved the state: %v", err)
	}
}

func TestServerForgotAnotherLogin(t *testing.T) {
	m := newTestMachine(&bytes.Buffer{}, nil)
	_, keep := reach(t, m, LoggedIn)
	eff, err := m.Step(Input[*chat]{Event: EvServerForgot, User: "carol"})
	if err != nil || eff.Moved || keep.calls() != 0 {
		t.Fatalf("an old login's NOTFOUND: %v, moved %v", err, eff.Moved)
	}
	eff, err = m.Step(Input[*chat]{Event: EvServerForgot, User: "ali"})
	eff.Do()
	if err != nil || !eff.Moved || eff.User != "ali" || keep.calls() != 1 {
		t.Fatalf("NOTFOUND: %v, moved %v, user %q, stop %d", err, eff.Moved, eff.User, keep.calls())
	}
}

// Random events from several goroutines: the invariant holds at every
// change the observer sees and at every snapshot.
func TestRandomEventsKeepTheInvariant(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	var mu sync.Mutex // guards failures: the observer runs in Step's goroutine
	var failures []string
	m := newTestMachine(&bytes.Buffer{}, func(c Change) {
		if c.HasChat != (c.To == Chatting) || !Allowed(c.From, c.To) {
			mu.Lock()
			failures = append(failures, c.From.String()+" -> "+c.To.String())
			mu.Unlock()
		}
	})
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(seed, uint64(g)))
			c, k := &counter{}, &counter{}
			for range 2000 {
				ev := Event(r.IntN(int(numEvents)))
				eff, _ := m.Step(full(m, ev, c, k))
				eff.Do()
				snap := m.Snapshot()
				if (snap.Chat != nil) != (snap.State == Chatting) {
					mu.Lock()
					failures = append(failures, "snapshot "+snap.State.String())
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	if len(failures) > 0 {
		t.Fatalf("seed %d: invariant broken: %v", seed, failures[:min(5, len(failures))])
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
	for _, ev := range Events() {
		if ev.String() == "" || ev.String() == "invalid" {
			t.Errorf("event %d has no name", ev)
		}
	}
	if State(99).String() != "invalid" || Event(99).String() != "invalid" {
		t.Error("out-of-range state or event has a name")
	}
	seen := map[[2]int]bool{}
	for _, e := range Table {
		k := [2]int{int(e.From), int(e.Event)}
		if seen[k] {
			t.Errorf("two edges from %s on %s", e.From, e.Event)
		}
		seen[k] = true
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
