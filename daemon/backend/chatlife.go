package backend

import (
	"context"
	"crypto/ed25519"
	"errors"
	"sync"
	"syscall"
	"time"

	"github.com/pi2pi/pi2pi/daemon/controlsock"
	"github.com/pi2pi/pi2pi/daemon/peerlink"
	"github.com/pi2pi/pi2pi/daemon/terminal"
	"github.com/pi2pi/pi2pi/internal/control"
	"github.com/pi2pi/pi2pi/internal/transport"
)

// The end of a chat is a half-close in each direction, as TCP's:
//
//   - the owner (pi2pictl) ends: OpEnd comes after every OpSend it made, so
//     pi2pid closes our sending side once that text is written, then keeps
//     showing what the peer sends until the peer closes its side;
//   - the peer ends: what it sent is shown, then EventChatEnding asks the
//     owner to stop; its OpEnd (after the sends it had made) closes our side;
//   - logout, a server logout or shutdown: EventChatEnding with the reason,
//     then as above, but within a budget, after which the chat is dropped.
//
// The chat is over when both sides are closed, the connection broke, or
// the owner left; then the state goes back to logged-in and the owner gets
// EventChatEnd, once, after every line.

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
	evOwnerEnd   chatEventKind = iota // OpEnd: the owner's text before it is written
	evAskEnd                          // logout, server logout, shutdown
	evSendFailed                      // a write to the peer failed
)

type chatEvent struct {
	kind   chatEventKind
	reason error         // evAskEnd: why (a *control.Error), nil for an ordinary end
	budget time.Duration // evAskEnd
	err    error         // evSendFailed
	reply  chan struct{} // evOwnerEnd: closed once our side is closed
}

// activeChat is the one chat in progress. Its goroutine (runChat) owns
// the end; the others post events to it.
type activeChat struct {
	peer    string
	owner   *controlsock.Conn
	link    *peerlink.Chat
	peerKey ed25519.PublicKey
	safety  string

	events chan chatEvent
	done   chan struct{} // closed once the chat is over and the state is back

	mu       sync.Mutex
	writeEnd bool // our sending side is closed (or closing)
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

// errWriteClosed refuses text after OpEnd.
var errWriteClosed = errors.New("write side closed")

// send writes text to the peer for the owner c (OpSend). It blocks while
// the peer reads slowly; meanwhile a client that hangs up is noticed.
func (ch *activeChat) send(c *controlsock.Conn, text string) error {
	ch.mu.Lock()
	closed := ch.writeEnd
	ch.mu.Unlock()
	if closed {
		return errWriteClosed
	}
	ctx, cancel := context.WithCancel(context.Background())
	watch := time.AfterFunc(time.Second, func() { c.WatchHangup(ctx) })
	err := ch.link.Send([]byte(text))
	watch.Stop()
	cancel()
	if err != nil {
		ch.post(chatEvent{kind: evSendFailed, err: err})
	}
	return err
}

// ownerEnd closes our sending side once the owner's text before it has
// gone out (OpEnd). The chat ends later, when the peer has closed too.
func (ch *activeChat) ownerEnd() {
	reply := make(chan struct{})
	if ch.post(chatEvent{kind: evOwnerEnd, reply: reply}) {
		select {
		case <-reply:
		case <-ch.done:
		}
	}
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
// Chatting (ev: EvAccepted or EvVerified), tells the owner and starts the
// chat's goroutine.
func (t *Terminal) startChat(owner *controlsock.Conn, peer string, direction control.Direction, link *peerlink.Chat, peerKey ed25519.PublicKey, ev terminal.Event) {
	ch := &activeChat{peer: peer, owner: owner, link: link, peerKey: peerKey,
		events: make(chan chatEvent), done: make(chan struct{})}
	start := control.Reply{Event: control.EventChatStart, Peer: peer, Direction: direction}
	if peerKey != nil {
		ch.safety = link.SafetyCode() // of this session (transport.Conn.SafetyCode)
		start.SafetyCode = ch.safety
		start.PeerFingerprint = transport.Fingerprint(peerKey)
		w := t.keys.check(peer, peerKey) // until accepted
		start.OldFingerprint, start.Warning, start.WarningDetail = w.old, w.code, w.detail
	}
	if !t.outcome(input{Event: ev, Chat: ch}) {
		link.Close()
		return
	}
	owner.Event(start)
	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		t.runChat(ch)
	}()
}

// receive starts copying the peer's text to the owner; the result of
// Receive comes on the returned channel.
func (t *Terminal) receive(ch *activeChat) <-chan error {
	done := make(chan error, 1)
	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		done <- ch.link.Receive(func(text string) error {
			return ch.owner.Line(control.Reply{Peer: ch.peer, Text: text})
		})
	}()
	return done
}

// runChat owns the chat until it is over: it takes the events of the
// peer (end of stream, failure), of the owner (end, departure) and of the
// terminal (logout, shutdown), in one place.
func (t *Terminal) runChat(ch *activeChat) {
	recvDone := t.receive(ch)
	var (
		why       error
		peerEnded bool
		askedEnd  bool
		force     <-chan time.Time
		ownerGone = ch.owner.Done()
	)
	// A peer that stopped answering while we wait for its acknowledgement
	// (typing into a vanished peer) is looked for every LivenessCheck.
	check := time.NewTicker(LivenessCheck)
	defer check.Stop()
	askOwner := func(reason error) {
		if !askedEnd && !ch.writeClosed() {
			askedEnd = true
			ev := control.Reply{}
			if reason != nil {
				ev = control.Refuse(reason)
			}
			ev.Event, ev.Peer = control.EventChatEnding, ch.peer
			ch.owner.Event(ev)
		}
	}
loop:
	for !(peerEnded && ch.writeClosed()) {
		select {
		case err := <-recvDone:
			recvDone = nil
			if err != nil {
				if !errors.Is(err, controlsock.ErrGone) {
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
				close(ev.reply)
			case evAskEnd:
				if why == nil {
					why = ev.reason
				}
				askOwner(ev.reason)
				if force == nil {
					force = time.After(ev.budget)
				}
			case evSendFailed:
				why = t.sendFailedReason(ch.peer, ev.err, peerEnded)
				break loop
			}
		case <-ownerGone:
			// pi2pictl left without waiting for the end: close our side
			// if no write holds it, give the peer a moment, then drop.
			ownerGone = nil
			if ch.link.TryEnd() {
				ch.setWriteClosed()
			}
			force = time.After(EndGrace)
		case <-force:
			break loop
		case <-check.C:
			if ch.link.Silent() >= peerlink.Unanswered {
				why = t.brokeReason(ch.peer, syscall.ETIMEDOUT)
				break loop
			}
		}
	}
	t.finishChat(ch, recvDone, why)
}

// finishChat drops the connection, waits briefly for text already read
// (recvDone is nil when the reader has finished), puts the state back and
// tells the owner, once.
func (t *Terminal) finishChat(ch *activeChat, recvDone <-chan error, why error) {
	ch.link.Close()
	if recvDone != nil {
		// Dropped: the reader ends with the connection; what it read
		// before goes out first, unless the owner does not take it.
		select {
		case <-recvDone:
		case <-time.After(EndGrace):
		}
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

// brokeReason says why a chat ended when reading from the peer failed.
func (t *Terminal) brokeReason(peer string, err error) error {
	if peerlink.StoppedAnswering(err) {
		return control.Refusal(control.CodePeerStalled, peer, nil)
	}
	return control.Refusal(control.CodeBroken, peer, err)
}

// sendFailedReason says why a chat ended when writing to the peer failed;
// nil when the owner had ended it.
func (t *Terminal) sendFailedReason(peer string, err error, peerEnded bool) error {
	switch {
	case errors.Is(err, errWriteClosed):
		return nil
	case peerlink.StoppedAnswering(err):
		return control.Refusal(control.CodePeerStalled, peer, nil)
	case peerEnded:
		return control.Refusal(control.CodePeerClosed, peer, nil)
	}
	return control.Refusal(control.CodeSendFailed, peer, err)
}
