package directory

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pi2pi/pi2pi/internal/credential"
	"github.com/pi2pi/pi2pi/internal/testbin"
	"github.com/pi2pi/pi2pi/internal/transport"
	"github.com/pi2pi/pi2pi/internal/wire"
	"github.com/pi2pi/pi2pi/server/guard"
	"github.com/pi2pi/pi2pi/server/netserve"
	"github.com/pi2pi/pi2pi/server/userstore"
)

// The lookup benchmarks compare the directory with a do-nothing floor
// server in the same run: it accepts, decodes one JSON object, writes a
// canned reply (and closes, or reads the next one on a persistent
// connection). The same client code drives both, in alternating rounds.
// The ratio (server rate / floor rate, metric "server/floor") is what to
// record: on a 2-core machine the load generator shares the CPU with the
// server, and other work on the machine moves absolute rates from one
// second to the next.
//
//	go test -run '^$' -bench 'Lookup(PerConnection|Persistent)' -benchtime 1s ./server/directory

var cannedReply = []byte(`{"msgtype":"LOOKUPREPLY","status":"SUCCESS","answer":"bianca","address":"127.0.0.3","encryptionkey":""}` + "\n")

// startFloor runs the do-nothing server.
func startFloor(b *testing.B, persistent bool) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				dec := wire.NewDecoder(c)
				for {
					raw, err := dec.Next()
					if err != nil {
						return
					}
					var m map[string]any
					if json.Unmarshal(raw, &m) != nil {
						return
					}
					if _, err := c.Write(cannedReply); err != nil || !persistent {
						return
					}
				}
			}()
		}
	}()
	return l.Addr().String()
}

// benchClients are users u0..u15 logged in from 127.0.2.1..16.
const benchClients = 16

func clientIP(i int) string { return fmt.Sprintf("127.0.2.%d", 1+i%benchClients) }

func startBenchServer(b *testing.B) *harness {
	p := guard.DefaultPolicy
	p.SourceBurst = 1 << 30
	lim := netserve.DefaultLimits
	lim.MaxConnsPerIP = 256
	lim.MaxConns = 8192
	h := startServer(b, harnessOpts{policy: &p, limits: &lim})
	hasher := userstore.NewHasher(h.pepper, userstore.DefaultParams, 2)
	for i := 0; i < benchClients; i++ {
		h.addUser(hasher, fmt.Sprintf("u%d", i), "1234")
	}
	for i := 0; i < benchClients; i++ {
		tm := h.terminal(clientIP(i))
		if r := tm.login(fmt.Sprintf("u%d", i), "1234"); r.Status != wire.Granted {
			b.Fatalf("login u%d: %+v", i, r)
		}
	}
	return h
}

func lookupOf(i int) []byte {
	return []byte(fmt.Sprintf(`{"msgtype":"LOOKUPREQ","userid":"u%d","lookup":"u%d"}`+"\n", i%benchClients, (i+1)%benchClients))
}

func dialFrom(ip, addr string) (net.Conn, error) {
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second, Control: bindNoPort}
	return d.Dial("tcp", addr)
}

// oneShot sends one request on a fresh connection and reads the reply.
func oneShot(ip, addr string, req []byte) error {
	c, err := dialFrom(ip, addr)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write(req); err != nil {
		return err
	}
	r := bufio.NewReader(c)
	line, err := r.ReadSlice('\n')
	if err != nil {
		return err
	}
	if !strings.Contains(string(line), "SUCCESS") {
		return fmt.Errorf("reply %s", line)
	}
	return nil
}

// compare measures floor and server in alternating rounds within one run,
// in the order floor, server, server, floor (twice), so that load from
// elsewhere on the machine and its drift fall on both alike. do makes n
// requests to addr and returns the time they took. It reports each side's
// rate and their ratio, the figure to record.
func compare(b *testing.B, floor, server string, do func(addr string, n int) (time.Duration, error)) {
	const rounds = 8
	per := max(1, b.N/rounds)
	var took [2]time.Duration
	var done [2]int
	for r := range rounds {
		side := r % 2
		if r/2%2 == 1 {
			side = 1 - side
		}
		addr := floor
		if side == 1 {
			addr = server
		}
		d, err := do(addr, per)
		if err != nil {
			b.Fatal(err)
		}
		took[side] += d
		done[side] += per
	}
	floorRate := float64(done[0]) / took[0].Seconds()
	serverRate := float64(done[1]) / took[1].Seconds()
	b.ReportMetric(float64((took[0]+took[1]).Nanoseconds())/float64(done[0]+done[1]), "ns/op")
	b.ReportMetric(floorRate, "floor-req/s")
	b.ReportMetric(serverRate, "server-req/s")
	b.ReportMetric(serverRate/floorRate, "server/floor")
}

// BenchmarkLookupPerConnection: lookups, one per connection as course
// clients make them, from 2×GOMAXPROCS clients at once.
func BenchmarkLookupPerConnection(b *testing.B) {
	floor, server := startFloor(b, false), startBenchServer(b).addr
	workers := 2 * runtime.GOMAXPROCS(0)
	b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
		compare(b, floor, server, func(addr string, n int) (time.Duration, error) {
			var left atomic.Int64
			left.Store(int64(n))
			errs := make(chan error, workers)
			start := time.Now()
			for i := range workers {
				go func() {
					req := lookupOf(i)
					for left.Add(-1) >= 0 {
						if err := oneShot(clientIP(i), addr, req); err != nil {
							errs <- err
							return
						}
					}
					errs <- nil
				}()
			}
			var err error
			for range workers {
				err = cmp.Or(err, <-errs)
			}
			return time.Since(start), err
		})
	})
}

// BenchmarkLookupPersistent: lookups on persistent connections, each
// client sending a request and reading the reply in turn.
func BenchmarkLookupPersistent(b *testing.B) {
	floor, server := startFloor(b, true), startBenchServer(b).addr
	for _, clients := range []int{1, 8, 64} {
		b.Run(fmt.Sprintf("clients=%d", clients), func(b *testing.B) {
			compare(b, floor, server, func(addr string, n int) (time.Duration, error) {
				conns := make([]net.Conn, clients)
				for i := range conns {
					c, err := dialFrom(clientIP(i), addr)
					if err != nil {
						return 0, err
					}
					defer c.Close()
					conns[i] = c
				}
				var left atomic.Int64
				left.Store(int64(n))
				errs := make(chan error, clients)
				start := time.Now()
				for i, c := range conns {
					go func() {
						req := lookupOf(i)
						r := bufio.NewReader(c)
						for left.Add(-1) >= 0 {
							_ = c.SetDeadline(time.Now().Add(10 * time.Second))
							if _, err := c.Write(req); err != nil {
								errs <- err
								return
							}
							if _, err := r.ReadSlice('\n'); err != nil {
								errs <- err
								return
							}
						}
						errs <- nil
					}()
				}
				var err error
				for range clients {
					err = cmp.Or(err, <-errs)
				}
				return time.Since(start), err
			})
		})
	}
}

func percentile(d []time.Duration, p float64) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[min(len(s)-1, int(float64(len(s))*p))]
}

// BenchmarkLookupUnderLoad: latency of valid lookups (one per connection)
// while 1,000 idle connections and 50 one-byte-a-second clients are open.
func BenchmarkLookupUnderLoad(b *testing.B) {
	h := startBenchServer(b)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var idle []net.Conn
	for i := 0; i < 1000; i++ {
		c, err := dialFrom(fmt.Sprintf("127.0.3.%d", 1+i%20), h.addr)
		if err != nil {
			b.Fatal(err)
		}
		idle = append(idle, c)
	}
	defer func() {
		for _, c := range idle {
			c.Close()
		}
	}()
	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			msg := lookupOf(i)
			for ctx.Err() == nil {
				c, err := dialFrom(fmt.Sprintf("127.0.4.%d", 1+i), h.addr)
				if err != nil {
					return
				}
				for j := 0; ctx.Err() == nil; j = (j + 1) % len(msg) {
					if _, err := c.Write(msg[j : j+1]); err != nil {
						break
					}
					select {
					case <-ctx.Done():
					case <-time.After(time.Second):
					}
				}
				c.Close()
			}
		}()
	}
	time.Sleep(200 * time.Millisecond)
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		if err := oneShot(clientIP(i), h.addr, lookupOf(i)); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	b.ReportMetric(float64(percentile(lat, 0.5).Microseconds()), "p50-µs")
	b.ReportMetric(float64(percentile(lat, 0.99).Microseconds()), "p99-µs")
	cancel()
	wg.Wait()
}

// BenchmarkAuth: GRANTED login latency with the real argon2 parameters,
// then the login rate with 16 clients at once (bounded by the argon2
// semaphore), and the median time of each kind of refusal.
func BenchmarkAuth(b *testing.B) {
	h := startBenchServer(b)
	b.Run("latency", func(b *testing.B) {
		lat := make([]time.Duration, 0, b.N)
		for i := 0; i < b.N; i++ {
			tm := h.terminal(clientIP(i))
			start := time.Now()
			if r := tm.login(fmt.Sprintf("u%d", i%benchClients), "1234"); r.Status != wire.Granted {
				b.Fatalf("%+v", r)
			}
			lat = append(lat, time.Since(start))
		}
		b.ReportMetric(float64(percentile(lat, 0.5).Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(percentile(lat, 0.99).Microseconds())/1000, "p99-ms")
	})
	b.Run("rate-16-clients", func(b *testing.B) {
		var next atomic.Int64
		b.SetParallelism(8)
		b.ResetTimer()
		start := time.Now()
		b.RunParallel(func(pb *testing.PB) {
			i := int(next.Add(1))
			tm := h.terminal(clientIP(i))
			for pb.Next() {
				tm.login(fmt.Sprintf("u%d", i%benchClients), "1234")
			}
		})
		b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "logins/s")
	})
	b.Run("refusals", func(b *testing.B) {
		times := refusalTimes(b, h, max(b.N, 3))
		for k, v := range times {
			b.ReportMetric(float64(median(v).Microseconds())/1000, strings.ReplaceAll(k, " ", "-")+"-ms")
		}
	})
}

// --- memory, measured on the real binary ---

// TestMain removes the pi2pi-server that the benchmarks below build.
func TestMain(m *testing.M) { testbin.Main(m) }

// procStatus reads a field of /proc/PID/status in KiB.
func procStatus(b *testing.B, pid int, field string) float64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Skipf("no /proc: %v", err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 64)
			return kb
		}
	}
	b.Fatalf("%s not in /proc status", field)
	return 0
}

// runBinary starts `pi2pi-server serve` in plain mode on dir and waits for
// its "listening" line.
func runBinary(b *testing.B, dir string) (*exec.Cmd, string) {
	if runtime.GOOS != "linux" {
		b.Skip("RSS is read from /proc")
	}
	cmd := exec.Command(testbin.Build(b, "./server/cmd/pi2pi-server"), "serve", "--listen", "127.0.0.1:0", "--security", "plain",
		"--users", filepath.Join(dir, "users"), "--state-dir", dir, "--max-conns-per-ip", "2048", "--max-conns", "4096")
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		if _, after, ok := strings.Cut(sc.Text(), "msg=listening addr="); ok {
			go io.Copy(io.Discard, stderr)
			return cmd, strings.Fields(after)[0]
		}
	}
	b.Fatal("server did not start")
	return nil, ""
}

// BenchmarkRSSLoginFlood: peak RSS of the server while 1,000 clients log
// in at once (target < 256 MiB).
func BenchmarkRSSLoginFlood(b *testing.B) {
	dir := b.TempDir()
	pepper, _ := userstore.LoadOrCreatePepper(dir)
	phc, _ := userstore.NewHasher(pepper, userstore.DefaultParams, 1).Hash(context.Background(), credential.FromDigits("u", []byte("1234")))
	var users strings.Builder
	for i := 0; i < 1000; i++ {
		fmt.Fprintf(&users, "f%d %s\n", i, phc)
	}
	os.WriteFile(filepath.Join(dir, "users"), []byte(users.String()), 0o600)
	cmd, addr := runBinary(b, dir)
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		var wg sync.WaitGroup
		for i := 0; i < 1000; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				tc := &transport.Config{Mode: transport.Plain}
				ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
				defer cancel()
				c, err := tc.Dial(ctx, addr, nil)
				if err != nil {
					b.Error(err)
					return
				}
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(60 * time.Second))
				// Wrong passcodes for half: both paths cost one argon2.
				wire.Write(c, wire.Message{Type: wire.AuthReq, UserID: fmt.Sprintf("f%d", i), Passcode: "x"})
				wire.NewDecoder(c).Next()
			}()
		}
		wg.Wait()
	}
	b.StopTimer()
	b.ReportMetric(procStatus(b, cmd.Process.Pid, "VmHWM")/1024, "peak-RSS-MiB")
}

// BenchmarkRSS100kSessions: RSS of a server holding 100,000 logged-in users
// (target < 100 MiB). The state is written as the server would have saved
// it, then loaded at start.
func BenchmarkRSS100kSessions(b *testing.B) {
	dir := b.TempDir()
	pepper, _ := userstore.LoadOrCreatePepper(dir)
	phc, _ := userstore.NewHasher(pepper, userstore.DefaultParams, 1).Hash(context.Background(), "x")
	var users, sess strings.Builder
	now := time.Now().UnixNano()
	for i := 0; i < 100_000; i++ {
		id, _ := transport.GenerateIdentity()
		fmt.Fprintf(&users, "s%d %s\n", i, phc)
		fmt.Fprintf(&sess, "s%d 10.%d.%d.%d %s %d\n", i, i>>16, (i>>8)&255, i&255, transport.KeyString(id.Public), now)
	}
	os.WriteFile(filepath.Join(dir, "users"), []byte(users.String()), 0o600)
	os.WriteFile(filepath.Join(dir, "sessions"), []byte(sess.String()), 0o600)
	cmd, addr := runBinary(b, dir)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			b.Fatal(err)
		}
		io.WriteString(c, `{"msgtype":"LOOKUPREQ","userid":"s1","lookup":"s2"}`)
		wire.NewDecoder(c).Next()
		c.Close()
	}
	b.StopTimer()
	b.ReportMetric(procStatus(b, cmd.Process.Pid, "VmRSS")/1024, "RSS-MiB")
	b.ReportMetric(procStatus(b, cmd.Process.Pid, "VmHWM")/1024, "peak-RSS-MiB")
}
