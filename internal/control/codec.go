package control

import "encoding/json"

// The control protocol is one JSON object per line, written and read with
// encoding/json. (Chat text used to cross it, and a hand-written codec
// stood in for encoding/json for speed; the text now travels on the chat's
// data stream, and the lines left are few and small.)

// AppendRequest appends r as one JSON object, without a trailing newline.
func AppendRequest(b []byte, r Request) []byte { return appendJSON(b, r) }

// AppendReply appends r as one JSON object, without a trailing newline.
func AppendReply(b []byte, r Reply) []byte { return appendJSON(b, r) }

func appendJSON(b []byte, v any) []byte {
	j, err := json.Marshal(v)
	if err != nil { // cannot happen for these field types
		panic(err)
	}
	return append(b, j...)
}

// ParseRequest decodes one request line.
func ParseRequest(line []byte) (Request, error) {
	var r Request
	err := json.Unmarshal(line, &r)
	return r, err
}

// ParseReply decodes one reply line.
func ParseReply(line []byte) (Reply, error) {
	var r Reply
	err := json.Unmarshal(line, &r)
	return r, err
}
