package main

import (
	"errors"
	"io"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// fakeEnv is a getenv over a map.
func fakeEnv(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// fakeAbs resolves relative paths against /srv, as filepath.Abs would
// from that working directory.
func fakeAbs(p string) (string, error) {
	if filepath.IsAbs(p) {
		return p, nil
	}
	return filepath.Join("/srv", p), nil
}

func TestParseService(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		env    map[string]string
		action string
		want   []string // the service's command line (install)
		err    string   // part of the usage error, "" for none
	}{
		{name: "no action", err: "service needs an action"},
		{name: "unknown action", args: []string{"restart"}, err: `unknown service action "restart"`},
		{name: "start", args: []string{"start"}, action: "start"},
		{name: "stop", args: []string{"stop"}, action: "stop"},
		{name: "uninstall", args: []string{"uninstall"}, action: "uninstall"},
		{name: "stop with argument", args: []string{"stop", "now"}, err: `service stop takes no arguments (got "now")`},
		{
			name: "install needs paths", args: []string{"install", "--listen", ":9000"},
			err: "service install needs --users FILE and --state-dir DIR",
		},
		{
			name: "install needs state dir too", args: []string{"install", "--users", "/etc/u"},
			err: "service install needs --users FILE and --state-dir DIR",
		},
		{
			name: "install, only paths", args: []string{"install", "--users", "/etc/u", "--state-dir", "/var/s"},
			action: "install", want: []string{"serve", "--state-dir=/var/s", "--users=/etc/u"},
		},
		{
			name:   "install, relative paths become absolute",
			args:   []string{"install", "--users", "users", "--state-dir=state"},
			action: "install", want: []string{"serve", "--state-dir=/srv/state", "--users=/srv/users"},
		},
		{
			name:   "install, a leading serve is allowed",
			args:   []string{"install", "serve", "--users", "/u", "--state-dir", "/s"},
			action: "install", want: []string{"serve", "--state-dir=/s", "--users=/u"},
		},
		{
			name: "install keeps every setting that differs from the default, sorted",
			args: []string{"install", "--users", "/u", "--state-dir", "/s", "--listen", "0.0.0.0:9000",
				"--security", "plain", "--session-timeout", "1h", "--max-conns", "10", "--verbose",
				"--max-conns-per-ip", "64", "--idle-timeout", "30s"},
			action: "install", want: []string{"serve", "--idle-timeout=30s", "--listen=0.0.0.0:9000",
				"--max-conns=10", "--security=plain", "--session-timeout=1h0m0s", "--state-dir=/s",
				"--users=/u", "--verbose=true"},
		},
		{
			name:   "install drops settings equal to the default",
			args:   []string{"install", "--users", "/u", "--state-dir", "/s", "--listen", ":8082", "--security", "secure"},
			action: "install", want: []string{"serve", "--state-dir=/s", "--users=/u"},
		},
		{
			name: "install turns the environment into flags",
			args: []string{"install", "--listen", ":9000"},
			env: map[string]string{"PI2PI_SERVER_USERS": "/env/u", "PI2PI_SERVER_STATE_DIR": "rel",
				"PI2PI_SERVER_SECURITY": "plain", "PI2PI_SERVER_SESSION_TIMEOUT": "5m"},
			action: "install", want: []string{"serve", "--listen=:9000", "--security=plain",
				"--session-timeout=5m0s", "--state-dir=/srv/rel", "--users=/env/u"},
		},
		{
			name: "install checks serve's flags", args: []string{"install", "--users", "/u", "--state-dir", "/s", "--security", "rot13"},
			err: "--security",
		},
		{
			name: "install rejects unknown flags", args: []string{"install", "--users", "/u", "--state-dir", "/s", "--colour"},
			err: "flag provided but not defined: -colour",
		},
		{
			name: "install rejects arguments", args: []string{"install", "--users", "/u", "--state-dir", "/s", "extra"},
			err: `serve takes no arguments (got "extra")`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parseService(tt.args, fakeEnv(tt.env), fakeAbs, io.Discard)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want one containing %q", err, tt.err)
				}
				if !errors.Is(err, errUsage) {
					t.Errorf("err = %v is not a usage error (exit 2)", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.action != tt.action || !reflect.DeepEqual(c.args, tt.want) {
				t.Errorf("got %q %q, want %q %q", c.action, c.args, tt.action, tt.want)
			}
		})
	}
}

// The stored command line must be one that serve itself accepts, giving
// the configuration that was checked at install.
func TestServiceArgsRoundTrip(t *testing.T) {
	env := fakeEnv(map[string]string{"PI2PI_SERVER_SESSION_TIMEOUT": "2m"})
	c, err := parseService([]string{"install", "--users", "u", "--state-dir", "/s", "--max-conns-per-ip", "3",
		"--security", "plain"}, env, fakeAbs, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.args[0] != "serve" {
		t.Fatalf("args = %q, want serve first", c.args)
	}
	// The service starts with an empty environment of ours.
	got, _, err := parseServe(c.args[1:], fakeEnv(nil), io.Discard)
	if err != nil {
		t.Fatalf("serve rejects the stored command line %q: %v", c.args, err)
	}
	want, _, err := parseServe([]string{"--users", "/srv/u", "--state-dir", "/s", "--max-conns-per-ip", "3",
		"--security", "plain"}, env, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("stored command line gives %+v, want %+v", *got, *want)
	}
}
