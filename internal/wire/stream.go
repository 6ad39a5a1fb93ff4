package wire

import (
	"bufio"
	"errors"
	"fmt"
	"io"
)

// ErrTooLarge is returned when a message exceeds MaxMessage bytes.
var ErrTooLarge = fmt.Errorf("wire: message over %d bytes", MaxMessage)

// ErrNotObject is returned when the stream holds something other than a JSON
// object where a message should start.
var ErrNotObject = errors.New("wire: expected a JSON object")

// Decoder reads successive JSON objects from a stream. Objects may be
// separated by newlines, other whitespace, or nothing at all. It never reads
// more than MaxMessage bytes for one message, and what it has buffered past
// the last message stays available through Reader.
type Decoder struct {
	r   *bufio.Reader
	buf []byte
}

// NewDecoder returns a Decoder reading from r.
func NewDecoder(r io.Reader) *Decoder {
	return &Decoder{r: bufio.NewReaderSize(r, MaxMessage)}
}

// Reader returns the rest of the stream: bytes the decoder has buffered
// followed by the underlying reader. Use it for the chat phase after the
// CONNECTREPLY.
func (d *Decoder) Reader() *bufio.Reader { return d.r }

// Buffered reports how many bytes are buffered but not yet decoded.
func (d *Decoder) Buffered() int { return d.r.Buffered() }

// Next returns the raw bytes of the next JSON object. It returns io.EOF at a
// clean end of stream, io.ErrUnexpectedEOF when the stream ends inside a
// message, ErrNotObject for anything but an object, and ErrTooLarge for an
// object over MaxMessage bytes.
func (d *Decoder) Next() ([]byte, error) {
	d.buf = d.buf[:0]
	// Skip whitespace between messages.
	for {
		c, err := d.r.ReadByte()
		if err != nil {
			return nil, err
		}
		if c == ' ' || c == '\t' || c == '\r' || c == '\n' {
			continue
		}
		if c != '{' {
			return nil, ErrNotObject
		}
		d.buf = append(d.buf, c)
		break
	}
	// Scan what is buffered a chunk at a time rather than a byte at a
	// time, never taking more than one byte past the limit.
	depth, inString, escaped := 1, false, false
	for depth > 0 {
		if d.r.Buffered() == 0 {
			if _, err := d.r.Peek(1); err != nil {
				if err == io.EOF {
					return nil, io.ErrUnexpectedEOF
				}
				return nil, err
			}
		}
		chunk, _ := d.r.Peek(min(d.r.Buffered(), MaxMessage+1-len(d.buf)))
		i := 0
		for i < len(chunk) && depth > 0 {
			c := chunk[i]
			i++
			switch {
			case escaped:
				escaped = false
			case inString && c == '\\':
				escaped = true
			case c == '"':
				inString = !inString
			case inString:
			case c == '{' || c == '[':
				depth++
			case c == '}' || c == ']':
				depth--
			}
		}
		d.buf = append(d.buf, chunk[:i]...)
		_, _ = d.r.Discard(i)
		if len(d.buf) > MaxMessage {
			return nil, ErrTooLarge
		}
	}
	// Swallow one trailing newline (and a CR before it) when it is already
	// buffered, so that a chat phase starting after this message does not
	// begin with our own delimiter.
	// Peek only at what is buffered: peeking further would block on the
	// network and delay the reply to a message that is already complete.
	if n := d.r.Buffered(); n > 0 {
		if b, _ := d.r.Peek(1); b[0] == '\n' {
			_, _ = d.r.ReadByte()
		} else if n > 1 {
			if b, _ := d.r.Peek(2); b[0] == '\r' && b[1] == '\n' {
				_, _ = d.r.Discard(2)
			}
		}
	}
	return d.buf, nil
}

// Decode reads and decodes the next message.
func (d *Decoder) Decode() (Message, error) {
	raw, err := d.Next()
	if err != nil {
		return Message{}, err
	}
	return Unmarshal(raw)
}

// Write marshals m and writes it to w in a single Write call.
func Write(w io.Writer, m Message) error {
	b, err := Marshal(m)
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}
