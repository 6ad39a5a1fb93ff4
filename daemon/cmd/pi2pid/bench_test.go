package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pi2pi/pi2pi/internal/control"
	"github.com/pi2pi/pi2pi/internal/control/controltest"
	"github.com/pi2pi/pi2pi/internal/testbin"
)

// Benchmarks of the built binaries against a real pi2pi-server on
// loopback. Run them bounded, e.g.:
//
//	go test -run '^$' -bench . -benchtime 200x ./daemon/

// chatPair starts a server and two logged-in daemons; bianca waits.
func chatPair(b *testing.B, mode string) (ali, bianca *user) {
	srv := startServer(b, mode, map[string]string{"ali": "1234", "bianca": "5678"})
	port := testbin.FreePort(b, "127.0.0.2", "127.0.0.3")
	aliD := startDaemon(b, srv.addr, "127.0.0.2", port, mode)
	biancaD := startDaemon(b, srv.addr, "127.0.0.3", port, mode)
	ali, bianca = attach(b, aliD.socket), attach(b, biancaD.socket)
	ali.LogIn("ali", "1234")
	bianca.LogIn("bianca", "5678")
	bianca.Must(control.Request{Op: control.OpWait})
	return ali, bianca
}

func percentile(d []time.Duration, p float64) time.Duration {
	slices.Sort(d)
	return d[int(float64(len(d)-1)*p)]
}

// BenchmarkChatSetup: chat request until both sides are chatting, each
// with its chat's data stream open.
func BenchmarkChatSetup(b *testing.B) {
	for _, mode := range []string{"plain", "secure"} {
		b.Run(mode, func(b *testing.B) {
			ali, bianca := chatPair(b, mode)
			var d []time.Duration
			b.ResetTimer()
			for range b.N {
				// Each side is its own pi2pictl: bianca's opens her
				// stream while ali's opens his.
				start := time.Now()
				biancaIn := make(chan struct{})
				go func() {
					bianca.Next(control.EventChatStart) // and opens her stream
					close(biancaIn)
				}()
				ali.Must(control.Request{Op: control.OpChat, UserID: "bianca"}) // and opens his
				<-biancaIn
				d = append(d, time.Since(start))
				b.StopTimer()
				ali.End()
				bianca.Next(control.EventChatEnd)
				ali.Next(control.EventChatEnd)
				for bianca.Must(control.Request{Op: control.OpStatus}).Status.State != "logged-in" {
					time.Sleep(time.Millisecond)
				}
				b.StartTimer()
			}
			b.ReportMetric(float64(percentile(d, 0.5).Microseconds())/1000, "ms-p50")
			b.ReportMetric(float64(percentile(d, 0.99).Microseconds())/1000, "ms-p99")
		})
	}
}

// BenchmarkChatLine: one line from ali's data stream to bianca's.
func BenchmarkChatLine(b *testing.B) {
	for _, mode := range []string{"plain", "secure"} {
		b.Run(mode, func(b *testing.B) {
			ali, bianca := chatPair(b, mode)
			ali.Must(control.Request{Op: control.OpChat, UserID: "bianca"})
			bianca.Next(control.EventChatStart)
			var d []time.Duration
			b.ResetTimer()
			for range b.N {
				start := time.Now()
				ali.Send("Hello, are you there?\n")
				bianca.ReadText("\n")
				d = append(d, time.Since(start))
			}
			b.StopTimer()
			b.ReportMetric(float64(percentile(d, 0.5).Microseconds()), "us-p50")
			b.ReportMetric(float64(percentile(d, 0.99).Microseconds()), "us-p99")
		})
	}
}

// BenchmarkBulk: throughput of 64 KiB chunks from one chat's data stream
// to the other's through both daemons.
func BenchmarkBulk(b *testing.B) {
	for _, mode := range []string{"plain", "secure"} {
		b.Run(mode, func(b *testing.B) {
			ali, bianca := chatPair(b, mode)
			controltest.Bulk(b, ali, bianca, "bianca")
		})
	}
}

// BenchmarkIdle measures an idle, logged-in-less pi2pid: resident memory,
// wake-ups per second (context switches of all its threads) and the size of
// the stripped binary.
func BenchmarkIdle(b *testing.B) {
	dir := b.TempDir()
	stripped := filepath.Join(dir, "pi2pid")
	if out, err := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", stripped, ".").CombinedOutput(); err != nil {
		b.Fatalf("%v\n%s", err, out)
	}
	fi, err := os.Stat(stripped)
	if err != nil {
		b.Fatal(err)
	}
	port := testbin.FreePort(b, "127.0.0.2")
	d := startDaemon(b, "127.0.0.1:1", "127.0.0.2", port, "secure")
	pid := d.Cmd.Process.Pid
	time.Sleep(500 * time.Millisecond) // let start-up settle
	before := switches(b, pid)
	time.Sleep(2 * time.Second)
	wakeups := float64(switches(b, pid)-before) / 2
	b.ResetTimer()
	var rss float64
	for range b.N {
		rss = float64(vmRSS(b, pid))
	}
	b.StopTimer()
	b.ReportMetric(rss/1024, "MiB-RSS")
	b.ReportMetric(wakeups, "wakeups/s")
	b.ReportMetric(float64(fi.Size())/(1<<20), "MiB-stripped")
}

// switches sums the voluntary and involuntary context switches of every
// thread of pid.
func switches(b *testing.B, pid int) int {
	tasks, err := filepath.Glob("/proc/" + strconv.Itoa(pid) + "/task/*/status")
	if err != nil || len(tasks) == 0 {
		b.Fatalf("reading /proc: %v", err)
	}
	n := 0
	for _, f := range tasks {
		data, err := os.ReadFile(f)
		if err != nil {
			continue // thread exited
		}
		for _, line := range strings.Split(string(data), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.HasSuffix(k, "ctxt_switches") {
				x, _ := strconv.Atoi(strings.TrimSpace(v))
				n += x
			}
		}
	}
	return n
}

// vmRSS returns the resident set of pid in KiB.
func vmRSS(b *testing.B, pid int) int {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			x, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			return x
		}
	}
	b.Fatal("no VmRSS")
	return 0
}
