package control

import (
	"reflect"
	"testing"
	"unicode/utf8"
)

// FuzzRoundTrip: whatever a request or reply holds comes back as it was
// (strings that are valid UTF-8; JSON carries other bytes as U+FFFD).
func FuzzRoundTrip(f *testing.F) {
	f.Add(1, "stream", "ali", "Hello, are you there?\n", true)
	f.Add(-5, "", "", "\x1b[31m<script>&\u2028\u2029\"\\/\b\f\r\t\x00\x7f é 😀", false)
	f.Fuzz(func(t *testing.T, id int, a, b, text string, ok bool) {
		req := Request{ID: id, Op: Op(a), Version: id / 3, UserID: b, Key: Key(a + b), Token: text}
		got, err := ParseRequest(AppendRequest(nil, req))
		if err != nil || !validUTF8(a, b, text) {
			return
		}
		if got != req {
			t.Fatalf("request %+v came back as %+v", req, got)
		}
		rep := Reply{Type: TypeEvent, ID: id, OK: ok, Event: Event(a), Peer: b, Token: text, FailedAttempts: id}
		gotRep, err := ParseReply(AppendReply(nil, rep))
		if err != nil || !reflect.DeepEqual(gotRep, rep) {
			t.Fatalf("reply %+v came back as %+v, %v", rep, gotRep, err)
		}
	})
}

func validUTF8(ss ...string) bool {
	for _, s := range ss {
		if !utf8.ValidString(s) {
			return false
		}
	}
	return true
}
