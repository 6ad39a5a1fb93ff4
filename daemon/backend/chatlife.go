package backend

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/pi2pi/pi2pi/daemon/controlsock"
	"github.com/pi2pi/pi2pi/daemon/peerlink"
	"github.com/pi2pi/pi2pi/daemon/terminal"
	"github.com/pi2pi/pi2pi/internal/control"
	"github.com/pi2pi/pi2pi/internal/transport"
)

// A chat's text travels on its data stream (chatstream.go), raw bytes
// between the owner's pi2pictl and the peer, one copy loop each way. The end
// of a chat is a half-close in each direction, as TCP's:
//
//   - the owner (pi2pictl) ends: it closes its writing side of the stream
//     after what it accepted; pi2pid sends on what it read before that
//     end, closes our sending side, then keeps writing what the peer sends
//     until the peer closes its side;
//   - the peer ends: what it sent is written to the stream, the stream's
//     writing side is closed, then EventChatEnding asks the owner to stop;
//     its end of the stream closes our side;
//   - logout, a server logout or shutdown: EventChatEnding with the reason,
//     then as above, but within a budget, after which the chat is dropped.
//
// The chat is over when both sides are closed, the connection broke, or
// the owner left; then the state goes back to logged-in, the stream is
// closed, and the owner gets EventChatEnd, once.

// EndGrace is how long a chat whose owner left waits for the peer to close
// its side, and how long a dropped chat waits for the text already read.
const EndGrace = 2 * time.Second

// LivenessCheck is how often a chat asks TCP whether the peer still
// answers (peerlink.Liveness).
const LivenessCheck = time.Second

// EndBudget bounds a chat ended by a logout: the owner's answer to
// EventChatEnding and the peer's close.
const EndBudget = 5 * time.Second

type chatEventKind int

const (
	evOwnerEnd   chatEventKind = iota // the owner's stream ended, after its text was sent
	evAskEnd                          // logout, server logout, shutdown
	evSendFailed                      // a write to the peer failed
	evDrop                            // the owner cannot show the peer's text (OpDropChat)
)

type chatEvent struct {
	kind   chatEventKind
	reason error         // evAskEnd: why (a *control.Error), nil for an ordinary end
	budget time.Duration // evAskEnd
	err    error         // evSendFailed
}

// activeChat is the one chat in progress. Its goroutine (runChat) owns
// the end; the others post events to it.
type activeChat struct {
	peer    string
	owner   *controlsock.Conn
	raw     net.Conn // the TCP connection under link, for its keepalive
	link    *peerlink.Chat
	peerKey ed25519.PublicKey
	safety  string

	events chan chatEvent
	done   chan struct{} // closed once the chat is over and the state is back

	// token admits the chat's data stream, once (Terminal.Stream); the
	// stream comes on attach.
	token  string
	attach chan *controlsock.Stream

	mu        sync.Mutex
	writeEnd  bool // our sending side is closed (or closing)
	tokenUsed bool
}

// post hands ev to the chat's goroutine, unless the chat is over.
func (ch *activeChat) post(ev chatEvent) bool {
	select {
	case ch.events <- ev:
		return true
	case <-ch.done:
		return false
	}
}

// closeOurSide closes our sending side, once.
func (ch *activeChat) closeOurSide() {
	ch.mu.Lock()
	already := ch.writeEnd
	ch.writeEnd = true
	ch.mu.Unlock()
	if !already {
		ch.link.End()
	}
}

func (ch *activeChat) setWriteClosed() {
	ch.mu.Lock()
	ch.writeEnd = true
	ch.mu.Unlock()
}

func (ch *activeChat) writeClosed() bool {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	return ch.writeEnd
}

// dropChat ends c's chat at once (OpDropChat): c cannot show what the
// peer sends, and the peer must not take that for an ordinary end.
func (t *Terminal) dropChat(c *controlsock.Conn) error {
	ch := t.m.Snapshot().Chat
	if ch == nil || ch.owner != c || !ch.post(chatEvent{kind: evDrop}) {
		return control.Refusal(control.CodeNoChat, "", nil)
	}
	return nil
}

// abort drops the connection to the peer with a reset (SO_LINGER 0), so
// that the peer's pi2pid reports a broken chat ("what you typed since
// may not have arrived"), whether or not its text was still on its way.
// The TCP connection is closed under the link: TLS's close would send
// close_notify first, which the peer would read as an ordinary end.
func (ch *activeChat) abort() {
	if tc, ok := ch.raw.(interface{ SetLinger(int) error }); ok {
		_ = tc.SetLinger(0)
	}
	_ = ch.raw.Close()
	ch.link.Close()
}

// askEnd asks the owner to end the chat within budget and waits until it
// is over or ctx is done.
func (ch *activeChat) askEnd(ctx context.Context, reason error, budget time.Duration) {
	ch.post(chatEvent{kind: evAskEnd, reason: reason, budget: budget})
	select {
	case <-ch.done:
	case <-ctx.Done():
	}
}

// startChat hands the chat to the machine in the step that enters
// Chatting (step: EvAccepted or EvVerified, with its set-up), tells the
// owner and starts the chat's goroutine. It reports false when a logout
// or shutdown abandoned the set-up: then no chat starts.
// keys is the check of the peer's key begun during the set-up (nil in
// plain mode).
func (t *Terminal) startChat(owner *controlsock.Conn, peer string, direction control.Direction, raw net.Conn, link *peerlink.Chat, keys *keyAhead, step input) bool {
	var peerKey ed25519.PublicKey
	if keys != nil {
		peerKey = keys.key
	}
	ch := &activeChat{peer: peer, owner: owner, raw: raw, link: link, peerKey: peerKey,
		events: make(chan chatEvent), done: make(chan struct{}),
		token: rand.Text(), attach: make(chan *controlsock.Stream, 1)}
	start := control.Reply{Event: control.EventChatStart, Peer: peer, Direction: direction, Token: ch.token}
	if peerKey != nil {
		ch.safety = link.SafetyCode() // of this session (transport.Conn.SafetyCode)
		start.SafetyCode = ch.safety
		start.PeerFingerprint = transport.Fingerprint(peerKey)
		w := keys.result() // until accepted
		start.OldFingerprint, start.Warning, start.WarningDetail = w.old, w.code, w.detail
	}
	step.Chat = ch
	if t.advance(step, peer) != nil {
		link.Close() // a logout or shutdown abandoned the set-up
		return false
	}
	t.chatBegan(owner)
	owner.Event(start)
	if !t.track(func() { t.runChat(ch) }) {
		// pi2pid is stopping.
		t.finishChat(ch, nil, nil, control.Refusal(control.CodeStopping, "", nil))
	}
	return true
}

// runChat owns the chat until it is over: it takes the events of the
// peer (end of stream, failure), of the owner (end, departure) and of the
// terminal (logout, shutdown), in one place.
func (t *Terminal) runChat(ch *activeChat) {
	var (
		stream    *controlsock.Stream
		recvDone  <-chan error // the peer-to-owner copy, once attached
		why       error
		peerEnded bool
		askedEnd  bool
		force     <-chan time.Time
		cause     string // what force ends: a logout, a stop, the owner's leaving
		ownerGone = ch.owner.Done()
	)
	// The keepalive timing matters from the chat on: it is set here, in
	// the chat's goroutine, not on the set-up's critical path (five
	// system calls before CONNECTREQ, or between ACCEPTED and chat-start).
	if live, err := peerlink.Tune(ch.raw); err != nil {
		t.log.Warn("cannot set keepalive on the peer connection", "err", err)
	} else {
		ch.link.SetLiveness(live)
	}
	// A peer that stopped answering while we wait for its acknowledgement
	// (typing into a vanished peer) is looked for every LivenessCheck.
	check := time.NewTicker(LivenessCheck)
	defer check.Stop()
	// The owner opens the data stream within the handshake timeout.
	attachBy := time.NewTimer(t.opt.Timeout)
	defer attachBy.Stop()
	attachC := attachBy.C
	askOwner := func(reason error) {
		if !askedEnd && !ch.writeClosed() {
			askedEnd = true
			ev := control.Reply{}
			if reason != nil {
				ev = control.Refuse(reason)
			}
			ev.Event, ev.Peer = control.EventChatEnding, ch.peer
			ev.PeerEnded = peerEnded && reason == nil
			ch.owner.Event(ev)
		}
	}
loop:
	for !(peerEnded && ch.writeClosed()) {
		select {
		case stream = <-ch.attach:
			attachC = nil
			recvDone = t.receive(ch, stream)
			t.sendStream(ch, stream)
		case <-attachC:
			why = control.Refusal(control.CodeNoStream, ch.peer, nil)
			break loop
		case err := <-recvDone:
			recvDone = nil
			if err != nil {
				if errors.Is(err, controlsock.ErrGone) {
					// The owner left: what the peer sent is not shown,
					// and the peer must not see an ordinary end.
					why = cutOff(ch.peer, ownerLeft)
				} else {
					why = t.brokeReason(ch.peer, err)
				}
				break loop
			}
			peerEnded = true
			askOwner(nil)
		case ev := <-ch.events:
			switch ev.kind {
			case evOwnerEnd:
				ch.closeOurSide()
			case evAskEnd:
				if why == nil {
					why = ev.reason
				}
				askOwner(ev.reason)
				if force == nil {
					force, cause = time.After(ev.budget), askCause(ev.reason)
				}
			case evSendFailed:
				why = t.sendFailedReason(ch.peer, ev.err, peerEnded)
				break loop
			case evDrop:
				ch.abort()
				break loop
			}
		case <-ownerGone:
			// pi2pictl left without waiting for the end: close our side
			// if no write holds it, give the peer a moment, then drop.
			ownerGone = nil
			if stream == nil {
				// It left before it opened the data stream: nothing the
				// peer sent can be shown, and the peer must be told.
				why = cutOff(ch.peer, ownerLeft)
				break loop
			}
			if ch.link.TryEnd() {
				ch.setWriteClosed()
			}
			if force == nil {
				force, cause = time.After(EndGrace), ownerLeft
			}
		case <-force:
			// The end did not finish in time. When text may still be on
			// its way in either direction, both sides are told so
			// (finishChat resets the connection), not shown an ordinary
			// end; when nothing is, the end is polite as before.
			if ch.link.Unsettled() {
				why = cutOff(ch.peer, cause)
			}
			break loop
		case <-check.C:
			if ch.link.Silent() >= peerlink.Unanswered {
				why = t.brokeReason(ch.peer, syscall.ETIMEDOUT)
				break loop
			}
		}
	}
	t.finishChat(ch, stream, recvDone, why)
}

// finishChat drops the connection, waits briefly for text already read
// (recvDone is nil when the reader has finished or never started), closes
// the data stream, puts the state back and tells the owner, once.
func (t *Terminal) finishChat(ch *activeChat, stream *controlsock.Stream, recvDone <-chan error, why error) {
	if code := control.CodeOf(why); code == control.CodePeerStalled || code == control.CodeCutOff {
		// We gave up on a peer that stopped answering, or on an end that
		// did not finish in time: reset the connection rather than close
		// it politely. A polite close leaves what we sent since it last
		// answered, and our end, in the kernel, sent again until the
		// peer's link comes back; the peer would then get text we told
		// our user may not have arrived, and a normal end. Reset, the
		// peer's next packet is answered with a reset, and it is told the
		// chat broke.
		ch.abort()
	} else {
		ch.link.Close()
	}
	if recvDone != nil {
		// Dropped: the reader ends with the connection; what it read
		// before goes out first, unless the owner does not take it.
		select {
		case <-recvDone:
		case <-time.After(EndGrace):
		}
	}
	if stream != nil {
		_ = stream.Close()
	}
	t.outcome(input{Event: terminal.EvChatOver, Chat: ch})
	end := control.Reply{}
	if why != nil {
		end = control.Refuse(why)
	}
	end.Event, end.Peer = control.EventChatEnd, ch.peer
	ch.owner.Event(end)
	t.log.Info("chat ended", "PEER", ch.peer, "reason", end.Code, "err", end.Error)
	close(ch.done)
}

// ownerLeft is the cause of a chat cut off because its pi2pictl left
// before the chat's end was over.
const ownerLeft = "pi2pictl left"

// cutOff is the end of a chat whose text may not all have arrived
// (CodeCutOff), with its cause in words.
func cutOff(peer, cause string) error {
	return control.Refusal(control.CodeCutOff, peer, errors.New(cause))
}

// askCause is what ended a chat that was asked to end (evAskEnd), in the
// words of a CodeCutOff's cause.
func askCause(reason error) string {
	switch control.CodeOf(reason) {
	case control.CodeStopping:
		return "pi2pid is stopping"
	case control.CodeServerForgot:
		return "the server forgot this terminal's login"
	}
	return "logout"
}

// brokeReason says why a chat ended when reading from the peer failed.
func (t *Terminal) brokeReason(peer string, err error) error {
	if peerlink.StoppedAnswering(err) {
		return control.Refusal(control.CodePeerStalled, peer, nil)
	}
	return control.Refusal(control.CodeBroken, peer, err)
}

// sendFailedReason says why a chat ended when writing to the peer failed.
func (t *Terminal) sendFailedReason(peer string, err error, peerEnded bool) error {
	switch {
	case peerlink.StoppedAnswering(err):
		return control.Refusal(control.CodePeerStalled, peer, nil)
	case peerEnded:
		return control.Refusal(control.CodePeerClosed, peer, nil)
	}
	return control.Refusal(control.CodeSendFailed, peer, err)
}
