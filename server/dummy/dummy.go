// Package dummy is the course's test server (dummyserver.py) as a
// netserve.Handler: AUTHREQ is GRANTED to "ali" whatever the passcode and
// REFUSED to anyone else; LOOKUPREQ from ali for bianca answers
// 192.168.1.23 with key "1234"; every other lookup is NOTFOUND. It never
// records anything: it exists so that terminals can be tested without a
// real directory.
package dummy

import (
	"context"

	"github.com/pi2pi/pi2pi/internal/wire"
	"github.com/pi2pi/pi2pi/server/netserve"
)

// The fixed answers of the course's test server.
const (
	User          = "ali"
	Target        = "bianca"
	TargetAddress = "192.168.1.23"
	TargetKey     = "1234"
)

// Handler is the dummy server's handler.
var Handler netserve.Handler = netserve.HandlerFunc(handle)

func handle(_ context.Context, _ netserve.Peer, m wire.Message) (wire.Message, bool) {
	switch m.Type {
	case wire.AuthReq:
		uid, err := wire.NormalizeUserID(m.UserID)
		if err == nil && !m.HasInvalid() && uid == User {
			return wire.Message{Type: wire.AuthReply, UserID: uid, Status: wire.Granted}, true
		}
		return wire.Message{Type: wire.AuthReply, Status: wire.Refused}, true
	case wire.LookupReq:
		uid, err1 := wire.NormalizeUserID(m.UserID)
		target, err2 := wire.NormalizeUserID(m.Lookup)
		if err1 == nil && err2 == nil && !m.HasInvalid() && uid == User && target == Target {
			return wire.Message{Type: wire.LookupReply, Status: wire.Success, Answer: Target,
				Address: TargetAddress, EncryptionKey: TargetKey}, true
		}
		return wire.Message{Type: wire.LookupReply, Status: wire.NotFound}, true
	}
	return wire.Message{}, false
}
