package userstore

import (
	"bytes"
	"testing"
)

// FuzzParse feeds arbitrary users files to Parse: it must never panic, and
// whatever it accepts must survive Format and Parse unchanged, so that a
// `user` command never rewrites a file into something the server refuses.
func FuzzParse(f *testing.F) {
	f.Add([]byte("ali $argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g\n"))
	f.Add([]byte("# comment\n\nBianca $argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g unlocked=1700000000000000000 extra=1\n"))
	f.Add([]byte("ali\n"))
	f.Add([]byte("ali $argon2id$v=19$m=1,t=1,p=1$AA$AA\n"))
	f.Add([]byte("ali $argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA unlocked=x\n"))
	f.Add([]byte("al\x00i $argon2i$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA\n"))
	f.Add([]byte("ali $argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g key=bm8gY2x1ZQ\n"))
	f.Add([]byte("ali $argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g key=CQ\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		users, err := Parse(bytes.NewReader(data))
		if err != nil {
			return
		}
		again, err := Parse(bytes.NewReader(Format(users)))
		if err != nil {
			t.Fatalf("Format produced a file Parse refuses: %v", err)
		}
		if len(again) != len(users) {
			t.Fatalf("round trip: %d users, then %d", len(users), len(again))
		}
		for name, u := range users {
			v, ok := again[name]
			if !ok || v.Name != u.Name || v.Hash != u.Hash || v.Unlocked.UnixNano() != u.Unlocked.UnixNano() || v.Key != u.Key {
				t.Fatalf("round trip changed %q: %+v became %+v", name, u, v)
			}
		}
	})
}
