package backend

import (
	"crypto/subtle"
	"errors"
	"io"
	"sync"

	"github.com/pi2pi/pi2pi/daemon/controlsock"
	"github.com/pi2pi/pi2pi/internal/control"
)

// A chat's data stream (docs/protocol.md): EventChatStart gives the owner a
// one-time token; the owner opens a second connection to the control
// socket with it, and from then on that connection carries the chat's raw
// bytes. Two copy loops move them, each with one buffer of
// control.StreamBuffer bytes, so a chat holds at most 2 × 256 KiB of text in
// pi2pid (kernel socket buffers come on top); a slow side holds the other
// back through its socket. Until the stream is attached nothing is read
// from the peer: TCP holds its text.

// streamBuffers keeps sendStream's buffers from one chat to the next.
var streamBuffers = sync.Pool{New: func() any { b := make([]byte, control.StreamBuffer); return &b }}

// Stream implements controlsock.StreamHandler: it admits the data stream of
// the chat in progress, once, for a client of the owner's uid.
func (t *Terminal) Stream(token string, uid int) (func(*controlsock.Stream), error) {
	ch := t.m.Snapshot().Chat
	if ch == nil || !ch.claim(token, uid) {
		return nil, control.Refusal(control.CodeNoChat, "", nil)
	}
	return func(s *controlsock.Stream) {
		ch.attach <- s // room for one, and claim admits one
		<-ch.done      // the chat closes the stream when it is over
	}, nil
}

// claim uses up the chat's token if token is it and uid (-1 when unknown)
// is the owner's. A foreign uid leaves the token to the owner.
func (ch *activeChat) claim(token string, uid int) bool {
	if subtle.ConstantTimeCompare([]byte(token), []byte(ch.token)) != 1 {
		return false
	}
	if uid >= 0 && ch.owner.UID >= 0 && uid != ch.owner.UID {
		return false
	}
	select {
	case <-ch.done:
		return false
	default:
	}
	ch.mu.Lock()
	defer ch.mu.Unlock()
	if ch.tokenUsed {
		return false
	}
	ch.tokenUsed = true
	return true
}

// errOwnerGone marks a write to the stream that failed: the owner left.
var errOwnerGone = controlsock.ErrGone

// receive starts copying what the peer sends to the stream; once the peer
// has closed its side and all of it is written, the stream's writing side
// is closed. The result comes on the returned channel: nil at the peer's
// end, controlsock.ErrGone when the owner does not take the text, the
// peer connection's error otherwise.
func (t *Terminal) receive(ch *activeChat, s *controlsock.Stream) <-chan error {
	done := make(chan error, 1)
	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		err := ch.link.Receive(func(p []byte) error {
			if _, err := s.Write(p); err != nil {
				return errOwnerGone
			}
			return nil
		})
		if err == nil && s.CloseWrite() != nil {
			err = errOwnerGone
		}
		done <- err
	}()
	return done
}

// sendStream starts copying what the owner writes to the peer. The end of
// the stream (the owner's CloseWrite, or the owner gone) is the owner's end
// of the chat: evOwnerEnd, once everything read before it is sent.
func (t *Terminal) sendStream(ch *activeChat, s *controlsock.Stream) {
	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		bp := streamBuffers.Get().(*[]byte)
		defer streamBuffers.Put(bp)
		buf := *bp
		for {
			n, rerr := s.Read(buf)
			if n > 0 {
				if ch.writeClosed() {
					return // the chat dropped our side (the owner left)
				}
				if err := ch.link.Send(buf[:n]); err != nil {
					ch.post(chatEvent{kind: evSendFailed, err: err})
					return
				}
			}
			if rerr != nil {
				if !errors.Is(rerr, io.EOF) {
					t.log.Debug("chat stream read failed", "err", rerr)
				}
				ch.post(chatEvent{kind: evOwnerEnd})
				return
			}
		}
	}()
}
