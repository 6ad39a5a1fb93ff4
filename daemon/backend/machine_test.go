package backend

import (
	"context"
	"io"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pi2pi/pi2pi/daemon/directory/directorytest"
	"github.com/pi2pi/pi2pi/daemon/internal/leaktest"
	"github.com/pi2pi/pi2pi/daemon/terminal"
	"github.com/pi2pi/pi2pi/internal/control"
	"github.com/pi2pi/pi2pi/internal/transport"
)

// changeChecker sees every change of one terminal's machine: each starts
// where the one before ended, follows an edge of terminal.Table, and holds
// a chat exactly when it enters Chatting.
type changeChecker struct {
	t    *testing.T
	name string
	seed uint64
	mu   sync.Mutex
	last terminal.State
	seen map[terminal.State]int // entries into each state
}

func (c *changeChecker) observe(ch terminal.Change) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.seen == nil {
		c.seen = map[terminal.State]int{}
	}
	c.seen[ch.To]++
	if ch.From != c.last {
		c.t.Errorf("seed %d: %s: change %s -> %s after a change to %s", c.seed, c.name, ch.From, ch.To, c.last)
	}
	if to, ok := terminal.Next(ch.From, ch.Event); !ok || to != ch.To {
		c.t.Errorf("seed %d: %s: %s -> %s on %s is not in Table", c.seed, c.name, ch.From, ch.To, ch.Event)
	}
	if ch.HasChat != (ch.To == terminal.Chatting) {
		c.t.Errorf("seed %d: %s: state %s with a chat: %v", c.seed, c.name, ch.To, ch.HasChat)
	}
	c.last = ch.To
}

// chatStream is the data stream of a client's current chat, shared by
// the goroutine that reads its events and the one that fires requests.
type chatStream struct {
	mu sync.Mutex
	s  *control.Stream
}

func (c *chatStream) get() *control.Stream {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.s
}

// drain reads u's events as pi2pictl would: it opens the data stream at
// chat-start and reads it, closes its side at chat-ending, and types the
// passcode when asked for it.
func drain(u *user, cs *chatStream, digits string) {
	for ev := range u.C.Events() {
		switch ev.Event {
		case control.EventChatStart:
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			s, err := control.DialStream(ctx, u.Socket, ev.Token)
			cancel()
			if err != nil {
				continue // the chat ended meanwhile
			}
			cs.mu.Lock()
			cs.s = s
			cs.mu.Unlock()
			go func() {
				_, _ = io.Copy(io.Discard, s)
				s.Close()
			}()
		case control.EventChatEnding:
			if s := cs.get(); s != nil {
				_ = s.CloseWrite()
			}
		case control.EventPasscode:
			go func() {
				for i := range len(digits) {
					_ = u.C.Send(control.Request{Op: control.OpKey, Key: control.Digit(digits[i])})
				}
				_ = u.C.Send(control.Request{Op: control.OpKey, Key: control.KeyEnter})
			}()
		}
	}
}

// checkStatus: status shows a peer's key and the safety code exactly
// while chatting (secure mode), read in one step with the state.
func checkStatus(t *testing.T, seed uint64, name string, st *control.Status) {
	chatting := st.State == control.StateChatting
	if chatting != (st.PeerFingerprint != "") || chatting != (st.SafetyCode != "") {
		t.Errorf("seed %d: %s: status %s with peer key %q, safety code %q", seed, name, st.State, st.PeerFingerprint, st.SafetyCode)
	}
	if (st.UserID == "") != (st.State == control.StateLoggedOut) {
		t.Errorf("seed %d: %s: status %s with user %q", seed, name, st.State, st.UserID)
	}
}

// Requests fired at random from several clients of three real terminals
// (logins, logouts, chats both ways, sends, ends, key presses, the server
// forgetting a login): the machine's invariants hold at every change and
// in every status.
func TestRandomRequestsKeepTheInvariant(t *testing.T) {
	leaktest.Check(t)
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	srv := newFakeServer()
	names := []string{"ali", "bianca", "carol"}
	ips := []string{"127.0.0.2", "127.0.0.3", "127.0.0.4"}
	port := freePort(t, ips...)
	terms := make([]*term, len(names))
	checkers := make([]*changeChecker, len(names))
	for i, name := range names {
		ck := &changeChecker{t: t, name: name, seed: seed}
		checkers[i] = ck
		terms[i] = newTerm(t, srv, transport.Secure, ips[i], port, func(o *Options) {
			o.observe, o.Keepalive = ck.observe, 20*time.Millisecond
		})
	}
	var wg sync.WaitGroup
	for i, tm := range terms {
		me, digits := names[i], directorytest.Passcodes[names[i]]
		owner, poker := attach(t, tm.sock), attach(t, tm.sock)
		owner.Must(control.Request{Op: control.OpWait})
		streams := []*chatStream{{}, {}}
		for j, u := range []*user{owner, poker} {
			go drain(u, streams[j], digits)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(seed, uint64(i)))
			for range 60 {
				fire(t, seed, r, srv, me, names, [2]*user{owner, poker}, streams)
			}
		}()
	}
	wg.Wait()
	for i, tm := range terms {
		snap := tm.m.Snapshot()
		if (snap.Chat != nil) != (snap.State == terminal.Chatting) {
			t.Errorf("seed %d: %s ends in %s with chat %v", seed, names[i], snap.State, snap.Chat)
		}
		checkers[i].mu.Lock()
		t.Logf("%s entered: %v", names[i], checkers[i].seen)
		checkers[i].mu.Unlock()
	}
}

// fire makes one random request on one of me's clients.
func fire(t *testing.T, seed uint64, r *rand.Rand, srv *fakeServer, me string, names []string, us [2]*user, streams []*chatStream) {
	k := 1
	if r.IntN(3) == 0 {
		k = 0 // the owner, attached for incoming chats
	}
	u, cs := us[k], streams[k]
	other := names[r.IntN(len(names))]
	var req control.Request
	switch r.IntN(10) {
	case 0, 1:
		req = control.Request{Op: control.OpLogin, UserID: me}
	case 2:
		req = control.Request{Op: control.OpLogout}
	case 3, 4:
		req = control.Request{Op: control.OpChat, UserID: other}
	case 5, 6:
		// Text on the chat's data stream, or its end; a stream whose
		// chat is over refuses them, which is fine.
		if s := cs.get(); s != nil {
			_ = s.SetWriteDeadline(time.Now().Add(time.Second))
			if r.IntN(2) == 0 {
				_, _ = s.Write([]byte(strings.Repeat("x", r.IntN(100)) + "\n"))
			} else {
				_ = s.CloseWrite()
			}
		}
		req = control.Request{Op: control.OpStatus}
	case 7:
		req = control.Request{Op: control.OpKey, Key: []control.Key{control.KeyCancel, control.KeyEnter, control.Digit('1')}[r.IntN(3)]}
	case 8:
		if r.IntN(4) == 0 {
			srv.Forget(me) // the keepalive finds out
		}
		req = control.Request{Op: control.OpStatus}
	default:
		req = control.Request{Op: control.OpStatus}
	}
	rep, err := u.Call(req)
	if err != nil && control.CodeOf(err) == "" {
		t.Errorf("seed %d: %s %s: %v", seed, me, req.Op, err)
		return
	}
	if req.Op == control.OpStatus && err == nil {
		checkStatus(t, seed, me, rep.Status)
	}
}
