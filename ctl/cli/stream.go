package cli

// A chat's text travels on its data stream (internal/control.Stream), a
// connection of its own to pi2pid: raw bytes both ways. Its reader hands
// what arrives to the engine chunk by chunk; the pump (a pipe) or the
// typed-line writer (a terminal) write to it; the end of our side is its
// CloseWrite after what was accepted.

import (
	"context"
	"time"

	"github.com/pi2pi/pi2pi/internal/control"
)

// chatStream is the data stream of the chat in progress.
type chatStream struct {
	s *control.Stream
	// data brings what the peer sent, in order; it is closed once the
	// stream has ended (pi2pid has written everything and closed it).
	// Each chunk goes back on free once shown: the reader holds at most
	// two buffers of control.StreamBuffer bytes.
	data chan []byte
	free chan []byte
	eof  bool // data is closed: everything the peer sent is shown
}

// openStream opens the data stream of a chat whose start carried token and
// starts its reader.
func openStream(socket, token string) (*chatStream, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := control.DialStream(ctx, socket, token)
	if err != nil {
		return nil, err
	}
	cs := &chatStream{s: s, data: make(chan []byte), free: make(chan []byte, 2)}
	for range 2 {
		cs.free <- make([]byte, control.StreamBuffer)
	}
	go cs.read()
	return cs, nil
}

func (cs *chatStream) read() {
	defer close(cs.data)
	for {
		buf := <-cs.free
		n, err := cs.s.Read(buf)
		// Take what else has arrived (a TLS peer's pi2pid writes one
		// record of 16 KiB at a time): fewer, larger chunks to show.
		for err == nil && n > 0 && n < len(buf) {
			m := cs.s.ReadReady(buf[n:])
			if m == 0 {
				break
			}
			n += m
		}
		if n > 0 {
			cs.data <- buf[:n]
		} else {
			cs.free <- buf
		}
		if err != nil {
			return
		}
	}
}

// done gives a chunk's buffer back to the reader.
func (cs *chatStream) done(b []byte) { cs.free <- b[:cap(b)] }

// close drops the stream; the reader ends (after its last chunk is taken).
func (cs *chatStream) close() { _ = cs.s.Close() }

// streamData is the engine's view of the reader: nil without a stream or
// after its end.
func (e *engine) streamData() <-chan []byte {
	if e.stream == nil || e.stream.eof {
		return nil
	}
	return e.stream.data
}

// closeStream drops the stream of a chat that is over.
func (e *engine) closeStream() {
	if e.stream != nil {
		e.stream.close()
		e.stream = nil
	}
	e.endWhy = nil
}

// onStreamData shows a chunk from the peer; ok false is the stream's end.
func (e *engine) onStreamData(b []byte, ok bool) {
	if !ok {
		e.streamEnded()
		return
	}
	e.showBytes(b)
	e.stream.done(b)
	// Wait until the chunk is written: the screen's queue holds no chat
	// text, so a slow stdout (a suspended `| less`) holds the peer back
	// through the stream instead of filling memory.
	e.out.Flush()
}

// showBytes shows a chunk, keeping an incomplete UTF-8 character at its
// end for the next one.
func (e *engine) showBytes(b []byte) {
	if len(e.carry) > 0 {
		b = append(e.carry, b...)
	}
	cut := completeRunes(b)
	text := string(b[:cut])
	e.carry = append(e.carry[:0], b[cut:]...)
	if text != "" && (e.phase == phChat || e.phase == phEnding) {
		e.showText(text)
	}
}

// streamEnded: the peer's side has ended and everything it sent is
// shown; our side may still be writing. The chat's end is shown once
// pi2pid's chat-end came too.
func (e *engine) streamEnded() {
	e.stream.eof = true
	if len(e.carry) > 0 && (e.phase == phChat || e.phase == phEnding) {
		e.showText(string(e.carry)) // a character cut off by the end
	}
	e.carry = e.carry[:0]
	if e.endWhy != nil {
		why := *e.endWhy
		e.endWhy = nil
		e.chatEnded(why)
	}
}

// drainStream shows what is left in the stream. pi2pid closes the stream
// before it sends chat-end, so after chat-end this ends soon.
func (e *engine) drainStream() {
	for e.stream != nil && !e.stream.eof {
		b, ok := <-e.stream.data
		e.onStreamData(b, ok)
	}
}

// writeItem is a typed line for the stream it goes to.
type writeItem struct {
	s    *control.Stream
	text string
}

// sendLines writes the lines typed in a chat, one at a time, so that the
// engine goes on showing what arrives while a slow peer holds a write up.
// A failed write means the chat is over; its chat-end says why.
func (e *engine) sendLines() {
	for it := range e.sendQ {
		_, err := it.s.Write([]byte(it.text))
		e.sendDone <- err
	}
}
