package main

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// target is a figure that an issue sets a bound on (or only asks to report).
type target struct {
	what  string
	pkg   string // package path suffix
	bench string // benchmark name without the -GOMAXPROCS suffix
	unit  string
	cmp   string // ">=", "<=" or "" (reported, no bound)
	bound float64
}

var targets = []target{
	{"lookups/s, one request per connection, against the floor", "server/directory", "BenchmarkLookupPerConnection/workers=4", "server/floor", ">=", 0.9},
	{"lookups/s, persistent, 1 client, against the floor", "server/directory", "BenchmarkLookupPersistent/clients=1", "server/floor", ">=", 0.8},
	{"lookups/s, persistent, 8 clients, against the floor", "server/directory", "BenchmarkLookupPersistent/clients=8", "server/floor", ">=", 0.8},
	{"lookups/s, persistent, 64 clients, against the floor", "server/directory", "BenchmarkLookupPersistent/clients=64", "server/floor", ">=", 0.8},
	{"lookup p99 with 1,000 idle and 50 slow clients open", "server/directory", "BenchmarkLookupUnderLoad", "p99-µs", "", 0},
	{"AUTHREQ p50 (argon2id m=19 MiB, t=2)", "server/directory", "BenchmarkAuth/latency", "p50-ms", "", 0},
	{"AUTHREQ p99", "server/directory", "BenchmarkAuth/latency", "p99-ms", "", 0},
	{"login rate the argon2 bound allows", "server/directory", "BenchmarkAuth/rate-16-clients", "logins/s", "", 0},
	{"peak RSS during 1,000 concurrent logins", "server/directory", "BenchmarkRSSLoginFlood", "peak-RSS-MiB", "<=", 256},
	{"RSS holding 100,000 logged-in users", "server/directory", "BenchmarkRSS100kSessions", "peak-RSS-MiB", "<=", 100},
	{"chat request → both sides chatting, plain, p50", "daemon/cmd/pi2pid", "BenchmarkChatSetup/plain", "ms-p50", "<=", 2},
	{"chat request → both sides chatting, secure, p50", "daemon/cmd/pi2pid", "BenchmarkChatSetup/secure", "ms-p50", "<=", 3},
	{"chat line pi2pictl → pi2pictl, p99", "daemon/cmd/pi2pid", "BenchmarkChatLine/plain", "us-p99", "<=", 1000},
	{"chat line pi2pictl → pi2pictl, secure, p99", "daemon/cmd/pi2pid", "BenchmarkChatLine/secure", "us-p99", "<=", 1000},
	{"bulk chat throughput, control client → pi2pid → pi2pid → control client (no pi2pictl, 64 KiB writes on the chat's data streams), plain", "daemon/cmd/pi2pid", "BenchmarkBulk/plain", "MB/s", ">=", 100},
	{"bulk chat throughput, control client → pi2pid → pi2pid → control client (no pi2pictl, 64 KiB writes on the chat's data streams), secure", "daemon/cmd/pi2pid", "BenchmarkBulk/secure", "MB/s", ">=", 100},
	{"a file through the users' path, `pi2pictl chat < file` → `pi2pictl wait > file`, plain", "pi2pi/e2e", "BenchmarkChatFile/plain", "MB/s", "", 0},
	{"the same file through one loopback TCP connection (the floor, measured before each run)", "pi2pi/e2e", "BenchmarkChatFile/plain", "floor-MB/s", "", 0},
	{"users' path over the floor, plain (median of the runs, each over the floor measured right before it)", "pi2pi/e2e", "BenchmarkChatFile/plain", "x-floor", ">=", 0.25},
	{"processor time per MiB, receiving pi2pictl (reads, cleans, writes the file), plain", "pi2pi/e2e", "BenchmarkChatFile/plain", "receiver-ctl-cpu-us/MiB", "", 0},
	{"processor time per MiB, sending pi2pictl, plain", "pi2pi/e2e", "BenchmarkChatFile/plain", "sender-ctl-cpu-us/MiB", "", 0},
	{"processor time per MiB, both pi2pid together, plain", "pi2pi/e2e", "BenchmarkChatFile/plain", "pi2pids-cpu-us/MiB", "", 0},
	{"a file through the users' path, secure", "pi2pi/e2e", "BenchmarkChatFile/secure", "MB/s", "", 0},
	{"users' path over the floor, secure (median, as above)", "pi2pi/e2e", "BenchmarkChatFile/secure", "x-floor", ">=", 0.25},
	{"processor time per MiB, both pi2pid together, secure", "pi2pi/e2e", "BenchmarkChatFile/secure", "pi2pids-cpu-us/MiB", "", 0},
	{"pi2pid idle RSS", "daemon/cmd/pi2pid", "BenchmarkIdle", "MiB-RSS", "<=", 15},
	{"pi2pid wake-ups per second while idle", "daemon/cmd/pi2pid", "BenchmarkIdle", "wakeups/s", "<=", 0},
	{"pi2pid stripped binary size", "daemon/cmd/pi2pid", "BenchmarkIdle", "MiB-stripped", "", 0},
	{"callee's side of a chat set-up, plain, against the Python course terminal (Python's p50 over ours)", "pi2pi/e2e", "BenchmarkConnect/plain", "x-python", ">=", 1},
	{"plain lookup with blocking calls, against Go's network poller (poller p50 over direct)", "daemon/directory", "BenchmarkPlainLookup", "x-poller", "", 0},
	{"wire decoding, hand-written against encoding/json (encoding/json's cost over ours)", "internal/wire", "BenchmarkUnmarshal", "x-encoding-json", "", 0},
}

var procSuffix = regexp.MustCompile(`-\d+$`)

// find returns the value of unit in the result of t's benchmark.
func (r *report) find(t target) (float64, bool) {
	for _, res := range r.results {
		if !strings.HasSuffix(res.pkg, t.pkg) || procSuffix.ReplaceAllString(res.name, "") != t.bench {
			continue
		}
		for _, m := range res.metrics {
			if m.unit == t.unit {
				v, err := strconv.ParseFloat(m.value, 64)
				return v, err == nil
			}
		}
	}
	return 0, false
}

// targetsTable checks each target against this run.
func (r *report) targetsTable() string {
	var b strings.Builder
	b.WriteString("\n## Targets\n\n| figure | target | this run | |\n|---|---|---|---|\n")
	for _, t := range targets {
		v, ok := r.find(t)
		bound, verdict := "report", ""
		if t.cmp != "" {
			bound = fmt.Sprintf("%s %g %s", strings.Replace(strings.Replace(t.cmp, ">=", "≥", 1), "<=", "≤", 1), t.bound, t.unit)
		}
		got := "not measured"
		if ok {
			got = fmt.Sprintf("%g %s", v, t.unit)
			switch {
			case t.cmp == ">=" && v >= t.bound, t.cmp == "<=" && v <= t.bound:
				verdict = "met"
			case t.cmp != "":
				verdict = "**missed**"
			}
		}
		fmt.Fprintf(&b, "| %s (`%s`) | %s | %s | %s |\n", t.what, t.bench, bound, got, verdict)
	}
	return b.String()
}
