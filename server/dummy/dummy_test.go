package dummy

import (
	"context"
	"testing"

	"github.com/pi2pi/pi2pi/internal/wire"
	"github.com/pi2pi/pi2pi/server/netserve"
)

func TestCourseAnswers(t *testing.T) {
	cases := []struct {
		in   wire.Message
		want wire.Message
	}{
		{wire.Message{Type: wire.AuthReq, UserID: "ali", Passcode: ""}, wire.Message{Type: wire.AuthReply, UserID: "ali", Status: wire.Granted}},
		{wire.Message{Type: wire.AuthReq, UserID: "Ali", Passcode: "00123"}, wire.Message{Type: wire.AuthReply, UserID: "ali", Status: wire.Granted}},
		{wire.Message{Type: wire.AuthReq, UserID: "bianca", Passcode: "00123"}, wire.Message{Type: wire.AuthReply, Status: wire.Refused}},
		{wire.Message{Type: wire.LookupReq, UserID: "ali", Lookup: "bianca"}, wire.Message{Type: wire.LookupReply, Status: wire.Success, Answer: "bianca", Address: "192.168.1.23", EncryptionKey: "1234"}},
		{wire.Message{Type: wire.LookupReq, UserID: "bianca", Lookup: "ali"}, wire.Message{Type: wire.LookupReply, Status: wire.NotFound}},
		{wire.Message{Type: wire.LookupReq, UserID: "ali", Lookup: "fred"}, wire.Message{Type: wire.LookupReply, Status: wire.NotFound}},
	}
	for _, c := range cases {
		got, keep := Handler.Handle(context.Background(), netserve.Peer{}, c.in)
		if !keep {
			t.Fatalf("%+v: connection closed", c.in)
		}
		gb, _ := wire.Marshal(got)
		wb, _ := wire.Marshal(c.want)
		if string(gb) != string(wb) {
			t.Errorf("%+v:\n got %s want %s", c.in, gb, wb)
		}
	}
	if _, keep := Handler.Handle(context.Background(), netserve.Peer{}, wire.Message{Type: wire.ConnectReq}); keep {
		t.Error("CONNECTREQ to a directory kept the connection")
	}
}
