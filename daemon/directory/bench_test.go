package directory

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/pi2pi/pi2pi/internal/testbin"
	"github.com/pi2pi/pi2pi/internal/transport"
)

// BenchmarkPlainLookup: one plain-mode LOOKUPREQ to a real pi2pi-server
// (another process, one connection per request), made with blocking calls
// (transport.DirectConn, what pi2pid uses) and through Go's network poller
// (net.Conn), alternately, so that both meet the same machine load. The
// callee of a chat runs this lookup before it answers (BenchmarkConnect
// in e2e); x-poller is how many times faster the direct way is.
func BenchmarkPlainLookup(b *testing.B) {
	bin := testbin.Build(b, "./server/cmd/pi2pi-server")
	dir := b.TempDir()
	addr := fmt.Sprintf("127.0.0.1:%d", testbin.FreePort(b, "127.0.0.1"))
	p := testbin.Start(b, exec.Command(bin, "serve", "--listen", addr, "--users", filepath.Join(dir, "users"),
		"--state-dir", filepath.Join(dir, "state"), "--security", "plain"))
	p.WaitLog(b, "listening")
	cfg := &transport.Config{Mode: transport.Plain, LocalIP: netip.MustParseAddr("127.0.0.9")}
	direct := &Client{Addr: addr, Transport: cfg}
	poller := &Client{Addr: addr, Transport: cfg, noDirect: true}
	var ds, ps []time.Duration
	lookup := func(c *Client, into *[]time.Duration) {
		start := time.Now()
		_, err := c.Lookup(context.Background(), "ali", "bianca")
		*into = append(*into, time.Since(start))
		if err != nil && !isNotFound(err) {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for i := range b.N {
		if i%2 == 0 {
			lookup(direct, &ds)
			lookup(poller, &ps)
		} else {
			lookup(poller, &ps)
			lookup(direct, &ds)
		}
	}
	b.StopTimer()
	d, q := median(ds), median(ps)
	b.ReportMetric(float64(d.Microseconds()), "direct-us-p50")
	b.ReportMetric(float64(q.Microseconds()), "poller-us-p50")
	b.ReportMetric(float64(q)/float64(d), "x-poller")
}

func isNotFound(err error) bool { return errors.Is(err, ErrNotFound) }

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}
