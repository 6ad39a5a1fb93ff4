package deploy_test

import (
	"os"
	"regexp"
	"strconv"
	"testing"

	"github.com/pi2pi/pi2pi/server/netserve"
)

// Issue 11 item 9: the server unit allows more open files than the server
// allows connections, so that the connection cap, not the file limit, is
// what refuses a flood (with room for the listener, the state files and
// the log).
func TestServerUnitFileLimitAboveMaxConns(t *testing.T) {
	unit, err := os.ReadFile("systemd/pi2pi-server.service")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^LimitNOFILE=(\d+)$`).FindSubmatch(unit)
	if m == nil {
		t.Fatal("pi2pi-server.service sets no LimitNOFILE=")
	}
	n, _ := strconv.Atoi(string(m[1]))
	if want := netserve.DefaultLimits.MaxConns + 256; n < want {
		t.Fatalf("LimitNOFILE=%d, want at least --max-conns (%d) + 256", n, netserve.DefaultLimits.MaxConns)
	}
	if regexp.MustCompile(`(?m)^ExecStart=.*--max-conns`).Match(unit) {
		t.Fatal("ExecStart sets --max-conns: check LimitNOFILE against that value")
	}
}
