package e2e

import (
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// BenchmarkChatFile: MB/s of a file through the path users take,
// `pi2pictl chat bianca < file` → pi2pid → pi2pid → `pi2pictl wait > file`,
// beside the floor measured in the same run: the same bytes from a pipe
// through one loopback TCP connection into a file, with nothing on the way.
// The floor is measured before every run of ours (three times, the median
// counts), so that both see the same load on a shared machine. The file is 32 MiB: at 8 MiB the floor's
// run lasted 15 ms and one scheduling hiccup moved the ratio by a tenth.
// The processor time each program spent per MiB is reported too: unlike
// the rates, it moves little with what else the machine runs, and it says
// where the time goes.
func BenchmarkChatFile(b *testing.B) {
	const size = 32 << 20
	rng := rand.New(rand.NewPCG(1, 2))
	var sb strings.Builder
	for sb.Len() < size {
		sb.WriteString(randomLine(rng, 200))
		sb.WriteByte('\n')
	}
	data := []byte(sb.String())
	for _, mode := range []string{"plain", "secure"} {
		b.Run(mode, func(b *testing.B) {
			r := newDeliveryRig(b, mode)
			dir := b.TempDir()
			b.SetBytes(int64(len(data)))
			b.ResetTimer()
			var busy, floorBusy, sendCPU, recvCPU, daemonCPU time.Duration
			var ratios []float64
			for i := range b.N {
				b.StopTimer()
				floorTook := medianFloor(b, data)
				floorBusy += floorTook
				out, err := os.Create(filepath.Join(dir, "received"))
				if err != nil {
					b.Fatal(err)
				}
				c := startChatPair(b, r.ali, r.bia, "bianca", false, out)
				d0 := processCPU(r.ali.p.cmd.Process.Pid) + processCPU(r.bia.p.cmd.Process.Pid)
				b.StartTimer()
				start := time.Now()
				go func() {
					_, _ = c.sender.stdin.Write(data)
					c.sender.stdin.Close()
				}()
				if code := c.sender.finish(b, "pi2pictl chat < file", 5*time.Minute); code != 0 {
					b.Fatalf("pi2pictl chat exited %d: %s", code, c.sender.errOut.String())
				}
				c.receiver.finish(b, "pi2pictl wait > file", time.Minute)
				took := time.Since(start)
				busy += took
				b.StopTimer()
				ratios = append(ratios, floorTook.Seconds()/took.Seconds())
				daemonCPU += processCPU(r.ali.p.cmd.Process.Pid) + processCPU(r.bia.p.cmd.Process.Pid) - d0
				sendCPU += exitedCPU(c.sender.cmd.ProcessState)
				recvCPU += exitedCPU(c.receiver.cmd.ProcessState)
				out.Close()
				if fi, err := os.Stat(out.Name()); err != nil || fi.Size() < int64(len(data)) {
					b.Fatalf("run %d: received %v bytes of %d (%v)", i, fi.Size(), len(data), err)
				}
				r.bia.waitState("logged-in")
				r.ali.waitState("logged-in")
				b.StartTimer()
			}
			floor := float64(len(data)) * float64(b.N) / floorBusy.Seconds() / 1e6
			b.ReportMetric(floor, "floor-MB/s")
			// The ratio is the median of each run's over the floor measured
			// right before it: one run slowed by something else on the
			// machine does not move it.
			slices.Sort(ratios)
			mid := len(ratios) / 2
			b.ReportMetric((ratios[mid]+ratios[(len(ratios)-1)/2])/2, "x-floor")
			mib := float64(len(data)) * float64(b.N) / (1 << 20)
			perMiB := func(d time.Duration) float64 { return float64(d.Microseconds()) / mib }
			b.ReportMetric(perMiB(sendCPU), "sender-ctl-cpu-us/MiB")
			b.ReportMetric(perMiB(recvCPU), "receiver-ctl-cpu-us/MiB")
			b.ReportMetric(perMiB(daemonCPU), "pi2pids-cpu-us/MiB")
		})
	}
}

// medianFloor is the median of three runs of relayFloor: a run of the
// floor lasts about 35 ms, and one of them slowed by something else on
// the machine moved the ratio by a third.
func medianFloor(b *testing.B, data []byte) time.Duration {
	runtime.GC() // not in anyone's run: the 32 MiB of the last one
	t := []time.Duration{relayFloor(b, data), relayFloor(b, data), relayFloor(b, data)}
	slices.Sort(t)
	runtime.GC()
	return t[1]
}

// relayFloor returns how long data takes from a pipe through one loopback
// TCP connection into a file: what any chat path over TCP is bounded by.
func relayFloor(b *testing.B, data []byte) time.Duration {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	out, err := os.Create(filepath.Join(b.TempDir(), "floor"))
	if err != nil {
		b.Fatal(err)
	}
	defer out.Close()
	pr, pw, err := os.Pipe()
	if err != nil {
		b.Fatal(err)
	}
	defer pr.Close()
	start := time.Now()
	go func() {
		_, _ = pw.Write(data)
		pw.Close()
	}()
	got := make(chan int64, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			got <- 0
			return
		}
		defer c.Close()
		n, _ := io.Copy(out, c)
		got <- n
	}()
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	if _, err := io.Copy(c, pr); err != nil {
		b.Fatal(err)
	}
	c.Close()
	if n := <-got; n != int64(len(data)) {
		b.Fatalf("the relay moved %d bytes of %d", n, len(data))
	}
	return time.Since(start)
}

// exitedCPU is the processor time (user and system) of a program that ended.
func exitedCPU(ps *os.ProcessState) time.Duration { return ps.UserTime() + ps.SystemTime() }

// processCPU is the processor time (user and system) a running process has
// used so far, from /proc (in clock ticks of 10 ms), 0 when unreadable.
func processCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	// The fields after the command name, which is in parentheses and
	// may hold spaces: state is the first, utime the 12th, stime the 13th.
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.Atoi(f[11])
	stime, _ := strconv.Atoi(f[12])
	return time.Duration(utime+stime) * 10 * time.Millisecond
}
