package e2e

import (
	"context"
	"sort"
	"testing"
	"time"

	"github.com/pi2pi/pi2pi/internal/control"
	"github.com/pi2pi/pi2pi/internal/transport"
	"github.com/pi2pi/pi2pi/internal/wire"
)

// The benchmarks below measure our programs and the course-style Python
// peer in the same run, on the same machine, and report the ratio, so the
// figure survives a change of machine. `make bench` collects them into
// docs/benchmarks.md.

// directoryClient logs users in at a server and looks them up, one request
// per connection as course servers require, straight over the wire.
type directoryClient struct {
	mode string
	addr string
	ip   string
	id   *transport.Identity
}

func newDirectoryClient(b *testing.B, mode, addr string) *directoryClient {
	dc := &directoryClient{mode: mode, addr: addr, ip: nextIP()}
	if mode == "secure" {
		var err error
		if dc.id, err = transport.GenerateIdentity(); err != nil {
			b.Fatal(err)
		}
	}
	return dc
}

func (dc *directoryClient) request(m wire.Message) (wire.Message, error) {
	c, err := dialAs(dc.mode, dc.ip, dc.addr, dc.id)
	if err != nil {
		return wire.Message{}, err
	}
	defer c.Close()
	return ask(c, m)
}

func (dc *directoryClient) login(b *testing.B, user, cred string) {
	b.Helper()
	rep, err := dc.request(wire.Message{Type: wire.AuthReq, UserID: user, Passcode: cred})
	if err != nil || rep.Status != wire.Granted {
		b.Fatalf("login of %s at %s: %+v %v", user, dc.addr, rep, err)
	}
}

// lookupRate logs ali and bianca in and returns lookups per second over n
// lookups by ali of bianca.
func lookupRate(b *testing.B, dc, other *directoryClient, n int) float64 {
	b.Helper()
	start := time.Now()
	for range n {
		rep, err := dc.request(wire.Message{Type: wire.LookupReq, UserID: "ali", Lookup: "bianca"})
		if err != nil || rep.Status != wire.Success {
			b.Fatalf("lookup: %+v %v", rep, err)
		}
	}
	return float64(n) / time.Since(start).Seconds()
}

// BenchmarkLookup: lookups per second, one request per connection, against
// our server (plain and secure) and against the Python course server.
func BenchmarkLookup(b *testing.B) {
	ps := startPythonServer(b, withCourseUsers("ali", "bianca")...)
	pyA, pyB := newDirectoryClient(b, "plain", ps.addr), newDirectoryClient(b, "plain", ps.addr)
	pyA.login(b, "ali", credentialOf("ali"))
	pyB.login(b, "bianca", credentialOf("bianca"))
	python := lookupRate(b, pyA, pyB, 300)

	for _, mode := range modes {
		b.Run(mode, func(b *testing.B) {
			srv := startServer(b, mode, []string{"ali", "bianca"})
			a, o := newDirectoryClient(b, mode, srv.addr), newDirectoryClient(b, mode, srv.addr)
			a.login(b, "ali", credentialOf("ali"))
			o.login(b, "bianca", credentialOf("bianca"))
			b.ResetTimer()
			ours := lookupRate(b, a, o, b.N)
			b.ReportMetric(ours, "lookups/s")
			b.ReportMetric(python, "python-lookups/s")
			b.ReportMetric(ours/python, "x-python")
		})
	}
}

// connectTimes connects to callee as initiator (logged in at dc's address
// with dc's key) n times and returns each CONNECTREQ→CONNECTREPLY time.
// before runs ahead of each attempt (to attach a receiver).
func connectTimes(b *testing.B, dc *directoryClient, callee, initiator string, n int, before, after func()) []time.Duration {
	b.Helper()
	var ds []time.Duration
	for range n {
		if before != nil {
			before()
		}
		start := time.Now()
		c, err := dialAs(dc.mode, dc.ip, callee, dc.id)
		if err != nil {
			b.Fatal(err)
		}
		rep, err := ask(c, wire.Message{Type: wire.ConnectReq, Initiator: initiator})
		ds = append(ds, time.Since(start))
		c.Close()
		if err != nil || rep.Status != wire.Accepted {
			b.Fatalf("connect to %s: %+v %v", callee, rep, err)
		}
		if after != nil {
			after()
		}
	}
	return ds
}

func median(ds []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

// BenchmarkConnect: the callee's side of a chat set-up (CONNECTREQ in,
// the callee's own lookup, CONNECTREPLY out), our terminal against the
// Python course terminal, plain mode, same machine, same run. The two are
// measured alternately, one connect each in turn, so that both meet the
// same load on a busy machine.
func BenchmarkConnect(b *testing.B) {
	ps := startPythonServer(b, withCourseUsers("ali", "bianca")...)
	pyCaller := newDirectoryClient(b, "plain", ps.addr)
	pyCaller.login(b, "ali", credentialOf("ali"))
	py, pyIP := startPythonTerminal(b, ps.addr, "bianca", credentialOf("bianca"), "--answer-forever")
	py.expect("Enter destination user ID:")

	for _, mode := range modes {
		b.Run(mode, func(b *testing.B) {
			srv := startServer(b, mode, []string{"ali", "bianca"})
			bianca := startTerminal(b, srv)
			bianca.login("bianca")
			caller := newDirectoryClient(b, mode, srv.addr)
			caller.login(b, "ali", credentialOf("ali"))
			r := attach(b, bianca)
			b.ResetTimer()
			var ours, python []time.Duration
			for i := range b.N {
				if i > 0 {
					b.StopTimer()
					r.wait()
					b.StartTimer()
				}
				ours = append(ours, connectTimes(b, caller, bianca.listenAddr(), "ali", 1, nil, nil)...)
				b.StopTimer()
				r.ended()
				python = append(python, connectTimes(b, pyCaller, pyIP+":8085", "ali", 1, nil, nil)...)
				b.StartTimer()
			}
			b.StopTimer()
			o, p := median(ours), median(python)
			b.ReportMetric(float64(o.Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(p.Microseconds())/1000, "python-p50-ms")
			b.ReportMetric(float64(p)/float64(o), "x-python")
		})
	}
}

// BenchmarkChatSetup: from `chat bianca` on ali's control socket to both
// sides chatting, between two of our terminals (the secure-mode target is
// 3 ms p50 on loopback, reported beside plain mode).
func BenchmarkChatSetup(b *testing.B) {
	for _, mode := range modes {
		b.Run(mode, func(b *testing.B) {
			srv := startServer(b, mode, []string{"ali", "bianca"})
			ali, bianca := startTerminal(b, srv), startTerminal(b, srv)
			ali.login("ali")
			bianca.login("bianca")
			r := attach(b, bianca)
			caller := attach(b, ali)
			var ds []time.Duration
			b.ResetTimer()
			for i := range b.N {
				b.StopTimer()
				if i > 0 {
					r.wait()
				}
				b.StartTimer()
				ctx, cancel := context.WithTimeout(context.Background(), stepTimeout)
				start := time.Now()
				_, err := caller.c.Call(ctx, control.Request{Op: control.OpChat, UserID: "bianca"})
				ds = append(ds, time.Since(start))
				if err != nil {
					cancel()
					b.Fatalf("chat: %v", err)
				}
				b.StopTimer()
				cancel()
				caller.end()
				r.ended()
				caller.ended()
				b.StartTimer()
			}
			b.StopTimer()
			b.ReportMetric(float64(median(ds).Microseconds())/1000, "p50-ms")
		})
	}
}
