package deploy_test

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/pi2pi/pi2pi/deploy"
)

// TestPi2pidMemoryMax: the terminal's unit bounds pi2pid's memory well
// below a Pi Zero's 512 MB (issue 11: 8,000 idle connections once took it
// to 173 MB; the peer port is capped now, and this is the backstop).
func TestPi2pidMemoryMax(t *testing.T) {
	f, err := os.Open(filepath.Join(deploy.Dir(), "systemd", "pi2pid.service"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var value string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "MemoryMax="); ok {
			value = v
		}
	}
	mb, err := strconv.Atoi(strings.TrimSuffix(value, "M"))
	if value == "" || !strings.HasSuffix(value, "M") || err != nil {
		t.Fatalf("pi2pid.service has MemoryMax=%q, want a size in M", value)
	}
	if mb < 16 || mb > 128 {
		t.Fatalf("MemoryMax=%s: want between 16M (pi2pid needs a few MB) and 128M (a quarter of a Pi Zero)", value)
	}
}
