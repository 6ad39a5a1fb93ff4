package control

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

var codecSeeds = []string{
	`{"id":1,"op":"stream","token":"Hello, are you there?\n"}`,
	`{"type":"event","event":"chat-start","peer":"ali","token":"Yes, here I am!\n"}`,
	`{"type":"result","id":7,"ok":true}`,
	`{"type":"hello","version":1,"daemon":"pi2pid dev"}`,
	`{"type":"result","id":2,"ok":true,"status":{"state":"logged-in","server":"x","security":"secure","keypad":"console","listen":"y"}}`,
	` { "id" : -3 , "op" : "key" , "key" : "enter" } `,
	`{"type":"event","event":"chat-start","peer":"ali","peer_fingerprint":"SHA256:x","old_fingerprint":"SHA256:y"}`,
	`{"id":1,"op":"stream","token":"\u001b[2J\u003cb\u003e \ud83d\ude00 \u00e9 é \u2028 \/ \" \\ \b\f\r\t"}`,
	`{"id":1,"op":"stream","token":"\ud800"}`,
	"{\"id\":1,\"op\":\"send\",\"text\":\"\xff\xfe bad\"}",
	"{\"id\":1,\"op\":\"send\",\"text\":\"\xed\xa0\x80\"}",
	`{"ID":1,"Op":"send","TEXT":"x"}`,
	`{"id":1,"op":"stream","id":2,"token":"a","token":"b"}`,
	`{"id":01,"op":"x"}`, `{"id":1.0,"op":"x"}`, `{"id":1e2,"op":"x"}`, `{"id":12345678901234567890}`,
	`{"id":"1"}`, `{"op":null}`, `{"ok":true}`, `{"ok":1}`, `{"ok":truex}`, `{"id":-}`, `{"id":1}x`, `{"id":1}}`,
	`{}`, `[]`, `null`, ``, `{"op":"a",}`, `{"op" "a"}`, `{"op":"a`, `{"op":"a\`, `{"token":"\u12"}`,
	`{"token":"\x"}`, "{\"text\":\"a\tb\"}", `{"extra":[1,{"a":2}],"op":"x"}`, `{"type":"event","ok":false}`,
}

// FuzzParse checks that the fast paths return exactly what json.Unmarshal
// returns, and fail where it fails.
func FuzzParse(f *testing.F) {
	for _, s := range codecSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		var wantReq Request
		errWant := json.Unmarshal(line, &wantReq)
		gotReq, err := ParseRequest(line)
		if (err == nil) != (errWant == nil) || err == nil && gotReq != wantReq {
			t.Fatalf("ParseRequest(%q) = %+v, %v; json.Unmarshal: %+v, %v", line, gotReq, err, wantReq, errWant)
		}
		var wantRep Reply
		errWant = json.Unmarshal(line, &wantRep)
		gotRep, err := ParseReply(line)
		if (err == nil) != (errWant == nil) || err == nil && !reflect.DeepEqual(gotRep, wantRep) {
			t.Fatalf("ParseReply(%q) = %+v, %v; json.Unmarshal: %+v, %v", line, gotRep, err, wantRep, errWant)
		}
	})
}

// FuzzAppend checks that the encoders write what json.Marshal writes and
// that the parsers read it back as json.Unmarshal does.
func FuzzAppend(f *testing.F) {
	f.Add(1, "send", "ali", "Hello, are you there?\n", true)
	f.Add(-5, "", "", "\x1b[31m<script>&\u2028\u2029\xff\xc3\"\\/\b\f\r\t\x00\x7f é 😀", false)
	f.Add(0, "line", "b\xed\xa0\x80", strings.Repeat("x", 5000), true)
	f.Fuzz(func(t *testing.T, id int, a, b, text string, ok bool) {
		req := Request{ID: id, Op: Op(a), Version: id / 3, UserID: b, Key: Key(a + b), Token: text}
		want, _ := json.Marshal(req)
		got := AppendRequest(nil, req)
		if string(got) != string(want) {
			t.Fatalf("AppendRequest = %s, json.Marshal = %s", got, want)
		}
		var back Request
		_ = json.Unmarshal(want, &back)
		if r, err := ParseRequest(got); err != nil || r != back {
			t.Fatalf("ParseRequest(%s) = %+v, %v; want %+v", got, r, err, back)
		}
		rep := Reply{Type: Type(a), ID: id, Version: -id, Daemon: b, OK: ok, Error: text, Code: Code(a), Event: Event(b),
			State: State(a), UserID: b, Keypad: Keypad(a), Peer: b, Direction: Direction(a), Token: text, SafetyCode: b,
			PeerFingerprint: a, OldFingerprint: b, Warning: Code(b), WarningDetail: text, FailedAttempts: id / 5}
		for _, status := range []*Status{nil, {State: State(a), Server: text}} {
			rep.Status = status
			want, _ = json.Marshal(rep)
			got = AppendReply(nil, rep)
			if string(got) != string(want) {
				t.Fatalf("AppendReply = %s, json.Marshal = %s", got, want)
			}
			var back Reply
			_ = json.Unmarshal(want, &back)
			if r, err := ParseReply(got); err != nil || !reflect.DeepEqual(r, back) {
				t.Fatalf("ParseReply(%s) = %+v, %v; want %+v", got, r, err, back)
			}
		}
	})
}

func BenchmarkCodec(b *testing.B) {
	text := strings.Repeat("Hello, are you there? ", 3000)[:64<<10]
	rep := Reply{Type: TypeEvent, Event: EventChatEnd, Peer: "ali", Error: text}
	line := AppendReply(nil, rep)
	b.Run("json.Marshal", func(b *testing.B) {
		b.SetBytes(int64(len(text)))
		for range b.N {
			_, _ = json.Marshal(rep)
		}
	})
	b.Run("AppendReply", func(b *testing.B) {
		b.SetBytes(int64(len(text)))
		var buf []byte
		for range b.N {
			buf = AppendReply(buf[:0], rep)
		}
	})
	b.Run("json.Unmarshal", func(b *testing.B) {
		b.SetBytes(int64(len(text)))
		for range b.N {
			var r Reply
			_ = json.Unmarshal(line, &r)
		}
	})
	b.Run("ParseReply", func(b *testing.B) {
		b.SetBytes(int64(len(text)))
		for range b.N {
			_, _ = ParseReply(line)
		}
	})
}
