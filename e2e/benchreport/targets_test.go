package main

import (
	"strings"
	"testing"
)

const sample = `goos: linux
pkg: github.com/pi2pi/pi2pi/daemon/cmd/pi2pid
BenchmarkChatSetup/plain-2         	     290	   1178627 ns/op	         1.161 ms-p50	         1.752 ms-p99
BenchmarkChatSetup/secure-2        	     180	   2017645 ns/op	         4.5 ms-p50	         4.189 ms-p99
pkg: github.com/pi2pi/pi2pi/e2e
BenchmarkChatSetup/plain-2         	     300	   1139489 ns/op	         0.1 p50-ms
pkg: github.com/pi2pi/pi2pi/server/directory
BenchmarkLookupPerConnection/workers=4-2   7470  49722 ns/op  0.9620 server/floor
`

func TestTargetsTable(t *testing.T) {
	table := parse(sample).targetsTable()
	for _, want := range []string{
		"| chat request → both sides chatting, plain, p50 (`BenchmarkChatSetup/plain`) | ≤ 2 ms-p50 | 1.161 ms-p50 | met |",
		"| chat request → both sides chatting, secure, p50 (`BenchmarkChatSetup/secure`) | ≤ 3 ms-p50 | 4.5 ms-p50 | **missed** |",
		"| lookups/s, one request per connection, against the floor (`BenchmarkLookupPerConnection/workers=4`) | ≥ 0.9 server/floor | 0.962 server/floor | met |",
		"| pi2pid idle RSS (`BenchmarkIdle`) | ≤ 15 MiB-RSS | not measured |  |",
	} {
		if !strings.Contains(table, want) {
			t.Errorf("targets table lacks\n%s\nin\n%s", want, table)
		}
	}
}
