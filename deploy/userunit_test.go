package deploy

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestUserUnit(t *testing.T) {
	src := `# comment stays
[Unit]
Description=x
After=network-online.target

[Service]
ExecStart=/usr/sbin/pi2pid --config /etc/pi2pi/pi2pid.conf
User=pi2pid
Group=pi2pi
SupplementaryGroups=gpio
DevicePolicy=closed
DeviceAllow=/dev/gpiomem rw
ProtectSystem=strict

[Socket]
ListenStream=8085
ListenStream=[::]:8086
SocketGroup=pi2pi

[Install]
WantedBy=multi-user.target
Also=pi2pid.socket
`
	got, err := UserUnit([]byte(src), UserOptions{
		Replace: []string{"/usr/sbin/pi2pid", "/b/pi2pid", "/etc/pi2pi", "/t/etc"},
		Set:     map[string]string{"Socket.ListenStream": "127.0.0.2:1", "Service.Restart": "no"},
		Append:  map[string][]string{"Service": {"StandardError=append:/t/log"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := `# comment stays
[Unit]
Description=x
After=network-online.target

[Service]
ExecStart=/b/pi2pid --config /t/etc/pi2pid.conf
ProtectSystem=strict

Restart=no
StandardError=append:/t/log
[Socket]
ListenStream=127.0.0.2:1

[Install]
WantedBy=default.target
Also=pi2pid.socket
`
	if string(got) != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}

func TestUserUnitErrors(t *testing.T) {
	for name, tc := range map[string]struct {
		src string
		opt UserOptions
	}{
		"odd replace":       {"[Service]\n", UserOptions{Replace: []string{"a"}}},
		"set no section":    {"[Service]\n", UserOptions{Set: map[string]string{"Socket.ListenStream": "1"}}},
		"set no dot":        {"[Service]\n", UserOptions{Set: map[string]string{"ListenStream": "1"}}},
		"append no section": {"[Service]\n", UserOptions{Append: map[string][]string{"Socket": {"A=b"}}}},
		"not key=value":     {"[Service]\nnonsense\n", UserOptions{}},
	} {
		if _, err := UserUnit([]byte(tc.src), tc.opt); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// TestShippedUnitsHaveNoSystemOnlyLeftovers generates the user version of
// every shipped unit and checks that nothing of SystemOnly survives while
// the hardening does.
func TestShippedUnitsHaveNoSystemOnlyLeftovers(t *testing.T) {
	units, _ := filepath.Glob(filepath.Join(Dir(), "systemd", "*.s*"))
	if len(units) != 5 {
		t.Fatalf("found %d units in deploy/systemd, want 5", len(units))
	}
	for _, u := range units {
		src, err := os.ReadFile(u)
		if err != nil {
			t.Fatal(err)
		}
		got, err := UserUnit(src, UserOptions{})
		if err != nil {
			t.Fatalf("%s: %v", u, err)
		}
		for _, line := range strings.Split(string(got), "\n") {
			k, _, _ := strings.Cut(line, "=")
			for _, bad := range SystemOnly {
				if k == bad {
					t.Errorf("%s: %s survived", filepath.Base(u), line)
				}
			}
		}
		if strings.HasSuffix(u, ".service") && !strings.Contains(string(got), "ProtectSystem=strict") {
			t.Errorf("%s: hardening lost", filepath.Base(u))
		}
	}
}
