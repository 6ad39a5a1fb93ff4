package probe

import (
	"bytes"
	"context"
	"net"
	"strings"
	"testing"

	"github.com/pi2pi/pi2pi/internal/transport"
	"github.com/pi2pi/pi2pi/internal/wire"
	"github.com/pi2pi/pi2pi/server/dummy"
	"github.com/pi2pi/pi2pi/server/netserve"
)

func start(t *testing.T, h netserve.Handler) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &netserve.Server{Transport: &transport.Config{Mode: transport.Plain}, Handler: h, Limits: netserve.DefaultLimits}
	done := make(chan struct{})
	go func() { s.Serve(ctx, l); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return l.Addr().String()
}

func TestDummyPassesEveryCheck(t *testing.T) {
	var out bytes.Buffer
	res, err := Run(context.Background(), Config{Addr: start(t, dummy.Handler), Mode: transport.Plain, Out: &out})
	if err != nil || res.Failed != 0 || res.Passed < 15 {
		t.Fatalf("%+v %v\n%s", res, err, out.String())
	}
}

// A server that grants everyone and answers lookups with a bad address
// must fail the checks that notice.
func TestBrokenServerFails(t *testing.T) {
	broken := netserve.HandlerFunc(func(_ context.Context, _ netserve.Peer, m wire.Message) (wire.Message, bool) {
		switch m.Type {
		case wire.AuthReq:
			return wire.Message{Type: wire.AuthReply, Status: wire.Granted}, true
		case wire.LookupReq:
			return wire.Message{Type: wire.LookupReply, Status: wire.Success, Answer: m.Lookup, Address: "nowhere"}, true
		}
		return wire.Message{}, false
	})
	var out bytes.Buffer
	res, _ := Run(context.Background(), Config{Addr: start(t, broken), Mode: transport.Plain, Out: &out})
	for _, want := range []string{"FAIL  course 2", "FAIL  course 3", "FAIL  course 4", "FAIL  course 5"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("missing %q in\n%s", want, out.String())
		}
	}
	if res.Failed == 0 {
		t.Fatal("no failure reported")
	}
}
