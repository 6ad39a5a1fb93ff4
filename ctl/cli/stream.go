package cli

// A chat's text travels on its data stream (internal/control.Stream), a
// connection of its own to pi2pid: raw bytes both ways. Its reader hands
// what arrives to the engine chunk by chunk; the pump (a pipe) or the
// typed-line writer (a terminal) write to it; the end of our side is its
// CloseWrite after what was accepted.

import (
	"context"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/pi2pi/pi2pi/ctl/peertext"
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
		// Take what else has arrived (pi2pid's write of a chunk may reach
		// us in parts, as the socket's buffer frees): fewer, larger
		// chunks to show.
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
	// Wait until the chunk is written, and only then give its buffer
	// back: showBytes lends the buffer to the screen without a copy. The
	// screen's queue thus holds no chat text, so a slow stdout (a
	// suspended `| less`) holds the peer back through the stream instead
	// of filling memory.
	e.out.Flush()
	e.stream.done(b)
	e.checkStdout()
}

// showBytes shows a chunk, keeping an incomplete UTF-8 character at its
// end for the next one. The chunk's text goes to the screen without a
// copy: it is a view of b, which must stay untouched until the screen has
// written it (onStreamData flushes before it gives b back).
func (e *engine) showBytes(b []byte) { e.carry.feed(b, e.showChunk) }

// showChunk shows text from the peer while the chat is on screen.
func (e *engine) showChunk(text string) {
	if e.phase == phChat || e.phase == phEnding {
		e.showText(text)
	}
}

// runeCarry cuts a byte stream into texts of whole UTF-8 characters and
// whole escape sequences: a character or a sequence cut off at a chunk's
// end is held for the next chunk. Invalid bytes pass as they are (the
// screen shows them as U+FFFD); the screen drops the sequences.
type runeCarry struct{ held []byte }

// feed calls show with the text of b that ends with a whole character
// (after the character held from before, if b completes it). The text b
// gives is a view of b, not a copy (a file received at speed would
// otherwise be copied once more, chunk by chunk): show must not keep it.
func (c *runeCarry) feed(b []byte, show func(string)) {
	if len(c.held) > 0 && c.held[0] == 0x1b {
		// An escape sequence left open at the last chunk's end: join
		// it with this chunk (a copy, but a rare one).
		joined := append(c.held, b...)
		c.held = nil
		cut := peertext.OpenEscape(string(joined[:completeRunes(joined)]))
		c.held = append(c.held, joined[cut:]...)
		if cut > 0 {
			show(string(joined[:cut]))
		}
		return
	}
	if len(c.held) > 0 {
		// The held character's continuation bytes start b.
		k := 0
		for k < len(b) && len(c.held)+k < utf8.UTFMax && !utf8.RuneStart(b[k]) {
			k++
		}
		c.held = append(c.held, b[:k]...)
		b = b[k:]
		if len(b) == 0 && !utf8.FullRune(c.held) {
			return // still cut off
		}
		show(string(c.held))
		c.held = c.held[:0]
	}
	cut := completeRunes(b)
	if cut > 0 {
		// An escape sequence left open is held too, so that its rest is
		// cleaned with it rather than shown as text.
		cut = peertext.OpenEscape(unsafe.String(&b[0], cut))
	}
	c.held = append(c.held, b[cut:]...)
	if cut > 0 {
		show(unsafe.String(&b[0], cut))
	}
}

// flush calls show with the held bytes, at the stream's end, and forgets them.
func (c *runeCarry) flush(show func(string)) {
	if len(c.held) > 0 {
		show(string(c.held)) // a character cut off by the end
	}
	c.held = c.held[:0]
}

// streamEnded: the peer's side has ended and everything it sent is
// shown; our side may still be writing. The chat's end is shown once
// pi2pid's chat-end came too.
func (e *engine) streamEnded() {
	e.stream.eof = true
	e.carry.flush(e.showChunk)
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
	slow func() // called once the write has waited slowWrite; nil: nothing
}

// sendLines writes the lines typed in a chat, one at a time, so that the
// engine goes on showing what arrives while a slow peer holds a write up.
// A failed write means the chat is over; its chat-end says why.
func (e *engine) sendLines() {
	for it := range e.sendQ {
		var slow *time.Timer
		if it.slow != nil {
			slow = time.AfterFunc(slowWrite, it.slow)
		}
		_, err := it.s.Write([]byte(it.text))
		if slow != nil {
			slow.Stop()
		}
		e.sendDone <- err
	}
}
