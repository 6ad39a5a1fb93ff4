package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "pi2pid.conf")
	if err := os.WriteFile(file, []byte("# a comment\nserver = file:8082\nPI2PI_KEYPAD=console\nkeepalive=\"2m\"\n\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	nofile := []string{"--config", file}
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		check   func(*Config) bool
		wantErr string
	}{
		{"defaults", []string{"--server", "s:8082", "--config", file}, nil, func(c *Config) bool {
			return c.Listen == ":8085" && c.Control == "/run/pi2pid/control.sock" && c.StateDir == "/var/lib/pi2pid" &&
				c.Security == "secure" && c.PeerPort == 8085 && !c.ListenIP.IsValid() && c.PasscodeTimeout == time.Minute
		}, ""},
		{"file", nofile, nil, func(c *Config) bool {
			return c.Server == "file:8082" && c.Keypad == "console" && c.Keepalive == 2*time.Minute && c.File == file
		}, ""},
		{"env beats file", nofile, map[string]string{"PI2PI_SERVER": "env:8082"}, func(c *Config) bool { return c.Server == "env:8082" }, ""},
		{"flag beats env", append([]string{"--server", "flag:1"}, nofile...), map[string]string{"PI2PI_SERVER": "env:8082"},
			func(c *Config) bool { return c.Server == "flag:1" }, ""},
		{"config from env", nil, map[string]string{"PI2PI_CONFIG": file}, func(c *Config) bool { return c.Server == "file:8082" }, ""},
		{"listen ip", []string{"--server", "s:1", "--listen", "127.0.0.2:9000", "--config", file}, nil, func(c *Config) bool {
			return c.ListenIP.String() == "127.0.0.2" && c.PeerPort == 9000
		}, ""},
		{"plain", []string{"--security", "plain", "--config", file}, nil, func(c *Config) bool { return c.Security == "plain" }, ""},
		{"missing server", []string{"--config", filepath.Join(dir, "none")}, nil, nil, "config file"},
		{"no server", nil, map[string]string{"PI2PI_CONFIG": ""}, nil, "no server address"},
		{"bad server", []string{"--server", "nohost", "--config", file}, nil, nil, "not HOST:PORT"},
		{"bad listen", []string{"--listen", "localhost:8085", "--config", file}, nil, nil, "not an IP"},
		{"bad security", []string{"--security", "tls", "--config", file}, nil, nil, "not one of secure, plain"},
		{"bad keypad", []string{"--keypad", "usb", "--config", file}, nil, nil, "keypad"},
		{"bad fingerprint", []string{"--server-fingerprint", "abc", "--config", file}, nil, nil, "SHA256"},
		{"bad keepalive", []string{"--keepalive", "0", "--config", file}, nil, nil, "keepalive"},
		{"bad log level", []string{"--log-level", "loud", "--config", file}, nil, nil, "log level"},
		{"unknown flag", []string{"--nope"}, nil, nil, "flag provided but not defined"},
		{"argument", []string{"--config", file, "extra"}, nil, nil, "unexpected argument"},
		{"help", []string{"-h"}, nil, nil, "help requested"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := tt.env
			if e == nil {
				e = map[string]string{}
			}
			if tt.name == "no server" {
				// Point at an empty file so a real /etc/pi2pi/pi2pid.conf cannot interfere.
				empty := filepath.Join(dir, "empty")
				_ = os.WriteFile(empty, nil, 0o600)
				e["PI2PI_CONFIG"] = empty
			}
			c, err := Load(tt.args, env(e))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(c) {
				t.Fatalf("unexpected config %+v", c)
			}
		})
	}
}

func TestParseFile(t *testing.T) {
	for _, bad := range []string{"server", "colour=blue", "server=\"unterminated\\\"", "server=\"a\\nb\""} {
		if _, err := ParseFile([]byte(bad)); err == nil {
			t.Errorf("ParseFile(%q) accepted", bad)
		}
	}
	kv, err := ParseFile([]byte("server=a:1\r\n  listen = 127.0.0.2:8085  \n"))
	if err != nil || kv["server"] != "a:1" || kv["listen"] != "127.0.0.2:8085" {
		t.Fatalf("kv %v err %v", kv, err)
	}
}

func TestUsageNamesEveryOption(t *testing.T) {
	var b strings.Builder
	Usage(&b)
	for _, o := range options {
		if !strings.Contains(b.String(), "--"+o.name) || !strings.Contains(b.String(), o.env) {
			t.Errorf("usage lacks %s", o.name)
		}
	}
}

func FuzzParseFile(f *testing.F) {
	for _, s := range []string{"", "server=a:1\n", "# c\nPI2PI_LISTEN=\"x\"\n", "=\n", "server=\"\\x00\"", "keypad=console\r\nsecurity=plain"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		kv, err := ParseFile(data)
		if err != nil {
			return
		}
		for k, v := range kv {
			if _, ok := optionName(k); !ok {
				t.Fatalf("unknown key %q accepted", k)
			}
			if strings.ContainsAny(v, "\x00\n") {
				t.Fatalf("value %q holds a control character", v)
			}
		}
		// Whatever the file says, building a config must not panic.
		vals := map[string]string{}
		for _, o := range options {
			vals[o.name] = o.def
		}
		for k, v := range kv {
			vals[k] = v
		}
		_, _ = build(vals)
	})
}
