package probe

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

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
	res, err := Run(context.Background(), Config{Addr: start(t, dummy.Handler), Mode: transport.Plain, Course: true, Out: &out})
	if err != nil || res.Failed != 0 || res.Skipped != 0 || res.Passed < 15 {
		t.Fatalf("%+v %v\n%s", res, err, out.String())
	}
}

// startCourse runs a course-style server: one request per connection,
// answered without a newline, then the connection is closed. With oneRecv
// it reads the request with a single 1024-byte receive and gives up when
// that is not one whole JSON object, as the course handouts' Python code does;
// otherwise it reads until one whole object has arrived. With keepOpen it
// goes on serving requests on the connection instead of closing it.
func startCourse(t *testing.T, h netserve.Handler, oneRecv, keepOpen bool) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { l.Close(); wg.Wait() })
	serve := func(c net.Conn) {
		defer c.Close()
		dec := wire.NewDecoder(c)
		buf := make([]byte, 1024)
		for {
			_ = c.SetDeadline(time.Now().Add(5 * time.Second))
			var raw []byte
			var err error
			if oneRecv {
				n, err := c.Read(buf)
				if err != nil || !json.Valid(buf[:n]) {
					return
				}
				raw = buf[:n]
			} else if raw, err = dec.Next(); err != nil {
				return
			}
			m, err := wire.Unmarshal(raw)
			if err != nil {
				return
			}
			reply, ok := h.Handle(context.Background(), netserve.Peer{}, m)
			if !ok {
				return
			}
			b, _ := wire.Marshal(reply)
			_, _ = c.Write(bytes.TrimSuffix(b, []byte("\n")))
			if !keepOpen {
				return
			}
		}
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() { defer wg.Done(); serve(c) }()
		}
	}()
	return l.Addr().String()
}

// Against a course-style server the checks that need a second request on
// one connection, or a request over several receives, are skipped with the
// reason, and the probe passes.
func TestCourseServerSkipsFraming(t *testing.T) {
	var out bytes.Buffer
	res, err := Run(context.Background(), Config{Addr: startCourse(t, dummy.Handler, true, false), Mode: transport.Plain, Course: true, Out: &out})
	if err != nil || res.Failed != 0 || res.Skipped != 3 || res.Passed < 15 {
		t.Fatalf("%+v %v\n%s", res, err, out.String())
	}
	for _, want := range []string{
		"SKIP  framing: two requests in one write get two replies: " + skipOneRequest,
		"SKIP  framing: requests in turn on one connection are all answered: " + skipOneRequest,
		"SKIP  framing: a request split over many writes is answered: " + skipOneRecv,
		"PASS  framing: a request without a newline is answered at once",
	} {
		if !strings.Contains(out.String(), want+"\n") {
			t.Errorf("missing %q in\n%s", want, out.String())
		}
	}
}

// A one-request-per-connection server that reads whole requests must still
// answer a request split over many writes: that check runs and passes.
func TestCourseServerReadingWholeRequests(t *testing.T) {
	var out bytes.Buffer
	res, _ := Run(context.Background(), Config{Addr: startCourse(t, dummy.Handler, false, false), Mode: transport.Plain, Course: true, Out: &out})
	if res.Failed != 0 || res.Skipped != 2 || !strings.Contains(out.String(), "PASS  framing: a request split over many writes is answered\n") {
		t.Fatalf("%+v\n%s", res, out.String())
	}
}

// Skipping the course framing checks does not hide real failures.
func TestBrokenCourseServerFails(t *testing.T) {
	var out bytes.Buffer
	res, _ := Run(context.Background(), Config{Addr: startCourse(t, grantAll, true, false), Mode: transport.Plain, Course: true, Out: &out})
	if res.Failed < 4 || !strings.Contains(out.String(), "FAIL  course 3") {
		t.Fatalf("%+v\n%s", res, out.String())
	}
}

// A server that keeps connections open but drops a split request fails the
// split check: the skip is only for servers that close after one reply.
func TestPersistentServerDroppingSplitRequestFails(t *testing.T) {
	var out bytes.Buffer
	res, _ := Run(context.Background(), Config{Addr: startCourse(t, dummy.Handler, true, true), Mode: transport.Plain, Course: true, Out: &out, Timeout: time.Second})
	if res.Skipped != 0 || !strings.Contains(out.String(), "FAIL  framing: a request split over many writes is answered") {
		t.Fatalf("%+v\n%s", res, out.String())
	}
}

// grantAll grants everyone and answers lookups with a bad address.
var grantAll = netserve.HandlerFunc(func(_ context.Context, _ netserve.Peer, m wire.Message) (wire.Message, bool) {
	switch m.Type {
	case wire.AuthReq:
		return wire.Message{Type: wire.AuthReply, Status: wire.Granted}, true
	case wire.LookupReq:
		return wire.Message{Type: wire.LookupReply, Status: wire.Success, Answer: m.Lookup, Address: "nowhere"}, true
	}
	return wire.Message{}, false
})

// A server that grants everyone and answers lookups with a bad address
// must fail the checks that notice.
func TestBrokenServerFails(t *testing.T) {
	var out bytes.Buffer
	res, _ := Run(context.Background(), Config{Addr: start(t, grantAll), Mode: transport.Plain, Course: true, Out: &out})
	for _, want := range []string{"FAIL  course 2", "FAIL  course 3", "FAIL  course 4", "FAIL  course 5"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("missing %q in\n%s", want, out.String())
		}
	}
	if res.Failed == 0 {
		t.Fatal("no failure reported")
	}
}

// TestNoLoginWithoutCredentials: without --user and --course the probe
// logs in as nobody real, so our server records no failed login for a
// real user, and the probe still passes against it.
func TestNoLoginWithoutCredentials(t *testing.T) {
	var out bytes.Buffer
	var mu sync.Mutex
	var auths []string
	h := netserve.HandlerFunc(func(ctx context.Context, p netserve.Peer, m wire.Message) (wire.Message, bool) {
		if m.Type == wire.AuthReq {
			mu.Lock()
			auths = append(auths, m.UserID)
			mu.Unlock()
		}
		return dummy.Handler.Handle(ctx, p, m)
	})
	res, err := Run(context.Background(), Config{Addr: start(t, h), Mode: transport.Plain, Out: &out})
	if err != nil || res.Failed != 0 || res.Skipped != 2 || !strings.Contains(out.String(), skipNoLogin) {
		t.Fatalf("%+v %v\n%s", res, err, out.String())
	}
	mu.Lock()
	defer mu.Unlock()
	for _, u := range auths {
		if u == "ali" || u == "bianca" {
			t.Errorf("the probe sent an AUTHREQ as %q without being told to", u)
		}
	}
}
