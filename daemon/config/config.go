// Package config reads pi2pid's settings from, in rising order of
// precedence, built-in defaults that suit a Raspberry Pi, an optional
// config file, PI2PI_* environment variables and command-line flags.
//
// The config file holds one KEY=VALUE per line. KEY is a flag name
// ("server") or its environment variable ("PI2PI_SERVER"), so the same file
// also works as a systemd EnvironmentFile. Blank lines and lines starting
// with '#' are ignored; VALUE may be wrapped in double quotes.
package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pi2pi/pi2pi/daemon/keypad"
	"github.com/pi2pi/pi2pi/internal/transport"
)

// DefaultFile is read when it exists and no --config is given.
const DefaultFile = "/etc/pi2pi/pi2pid.conf"

// MaxFileSize bounds the config file.
const MaxFileSize = 64 << 10

// Config is pi2pid's validated configuration.
type Config struct {
	Server            string // HOST:PORT of the pi2pi-server
	Listen            string // peer listener, IP:PORT
	ListenIP          netip.Addr
	PeerPort          int // port dialled on other terminals
	Control           string
	StateDir          string
	Keypad            string // console, rpio, gpiocdev, none
	KeypadMap         string
	KeypadRows        string // GPIO lines of the rows, e.g. "5,6,13,19"
	KeypadCols        string
	KeypadLayout      string
	Security          transport.Mode
	ServerFingerprint string
	Keepalive         time.Duration
	PasscodeTimeout   time.Duration
	Timeout           time.Duration // one request to the server or a peer
	LogLevel          string
	File              string // the config file read, "" if none
}

// option is one setting, settable by flag, environment and file.
type option struct {
	name, env, def, help string
}

var options = []option{
	{"server", "PI2PI_SERVER", "", "pi2pi-server address `HOST:PORT` (required)"},
	{"listen", "PI2PI_LISTEN", ":8085", "peer listener `IP:PORT`; a specific IP is also the source of outgoing connections"},
	{"control", "PI2PI_CONTROL", "/run/pi2pid/control.sock", "control socket `PATH` for pi2pictl"},
	{"state-dir", "PI2PI_STATE_DIR", "/var/lib/pi2pid", "state `DIR`: identity.key, known_hosts, peers"},
	{"keypad", "PI2PI_KEYPAD", "rpio", "keypad backend: rpio, gpiocdev, console or none"},
	{"keypad-map", "PI2PI_KEYPAD_MAP", "default", "keys for enter/backspace/cancel: default (A,B,C), legacy-hex (F,A,B) or enter=A,backspace=B,cancel=C"},
	{"keypad-rows", "PI2PI_KEYPAD_ROWS", "", "GPIO lines of the keypad rows, comma-separated (empty: the keypad's default)"},
	{"keypad-cols", "PI2PI_KEYPAD_COLS", "", "GPIO lines of the keypad columns, comma-separated (empty: the keypad's default)"},
	{"keypad-layout", "PI2PI_KEYPAD_LAYOUT", "", "key layout, rows separated by '/' (empty: 123A/456B/789C/*0#D)"},
	{"security", "PI2PI_SECURITY", "secure", "secure (TLS with pinned keys) or plain (the course handouts' clear text)"},
	{"server-fingerprint", "PI2PI_SERVER_FINGERPRINT", "", "expected server key `SHA256:...` (empty: trust on first use)"},
	{"keepalive", "PI2PI_KEEPALIVE", "5m", "interval of the self-lookup that keeps the login alive"},
	{"passcode-timeout", "PI2PI_PASSCODE_TIMEOUT", "60s", "give up passcode entry after this long without a key press"},
	{"timeout", "PI2PI_TIMEOUT", "10s", "time limit of one request to the server or a peer"},
	{"log-level", "PI2PI_LOG_LEVEL", "info", "debug, info, warn or error"},
}

// Usage writes the flag summary to w.
func Usage(w io.Writer) {
	fmt.Fprintln(w, "usage: pi2pid --server HOST:PORT [flags]")
	fmt.Fprintln(w, "       pi2pid --version")
	fmt.Fprintln(w, "\nflags (each also settable by its environment variable or in the config file):")
	fmt.Fprintf(w, "  --config FILE\n\tconfig file of KEY=VALUE lines (default %s when it exists) [PI2PI_CONFIG]\n", DefaultFile)
	for _, o := range options {
		def := ""
		if o.def != "" {
			def = " (default " + o.def + ")"
		}
		fmt.Fprintf(w, "  --%s\n\t%s%s [%s]\n", o.name, strings.ReplaceAll(o.help, "`", ""), def, o.env)
	}
}

// ErrHelp is returned for -h/--help.
var ErrHelp = flag.ErrHelp

// Load builds the configuration from args (without the program name),
// getenv and the config file.
func Load(args []string, getenv func(string) string) (*Config, error) {
	fs := flag.NewFlagSet("pi2pid", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	flagVals := map[string]*string{}
	for _, o := range options {
		flagVals[o.name] = fs.String(o.name, o.def, o.help)
	}
	configFlag := fs.String("config", "", "config file")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, ErrHelp
		}
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q (pi2pid takes only flags)", fs.Arg(0))
	}
	vals := map[string]string{}
	for _, o := range options {
		vals[o.name] = o.def
	}
	// The config file.
	path, explicit := *configFlag, true
	if path == "" {
		path = getenv("PI2PI_CONFIG")
	}
	if path == "" {
		path, explicit = DefaultFile, false
	}
	file := ""
	data, err := readLimited(path)
	switch {
	case err == nil:
		kv, err := ParseFile(data)
		if err != nil {
			return nil, fmt.Errorf("config file %s: %w", path, err)
		}
		for k, v := range kv {
			vals[k] = v
		}
		file = path
	case errors.Is(err, os.ErrNotExist) && !explicit:
	default:
		return nil, fmt.Errorf("config file: %w", err)
	}
	for _, o := range options {
		if v := getenv(o.env); v != "" {
			vals[o.name] = v
		}
	}
	fs.Visit(func(f *flag.Flag) {
		if p, ok := flagVals[f.Name]; ok {
			vals[f.Name] = *p
		}
	})
	c, err := build(vals)
	if err != nil {
		return nil, err
	}
	c.File = file
	return c, nil
}

func readLimited(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("%s is over %d bytes", path, MaxFileSize)
	}
	return data, nil
}

// ParseFile parses config file contents into flag-name → value pairs.
func ParseFile(data []byte) (map[string]string, error) {
	kv := map[string]string{}
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(strings.TrimSuffix(line, "\r"))
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fmt.Errorf("line %d: expected KEY=VALUE", i+1)
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		name, ok := optionName(k)
		if !ok {
			return nil, fmt.Errorf("line %d: unknown setting %q", i+1, k)
		}
		if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
			u, err := strconv.Unquote(v)
			if err != nil {
				return nil, fmt.Errorf("line %d: bad quoted value: %v", i+1, err)
			}
			v = u
		}
		if strings.ContainsAny(v, "\x00\n") {
			return nil, fmt.Errorf("line %d: value holds a control character", i+1)
		}
		kv[name] = v
	}
	return kv, nil
}

func optionName(k string) (string, bool) {
	i := slices.IndexFunc(options, func(o option) bool { return o.name == k || o.env == k })
	if i < 0 {
		return "", false
	}
	return options[i].name, true
}

func build(v map[string]string) (*Config, error) {
	c := &Config{
		Server:            v["server"],
		Listen:            v["listen"],
		Control:           v["control"],
		StateDir:          v["state-dir"],
		Keypad:            v["keypad"],
		KeypadMap:         v["keypad-map"],
		KeypadRows:        v["keypad-rows"],
		KeypadCols:        v["keypad-cols"],
		KeypadLayout:      v["keypad-layout"],
		ServerFingerprint: v["server-fingerprint"],
		LogLevel:          v["log-level"],
	}
	if c.Server == "" {
		return nil, errors.New("no server address: give --server HOST:PORT, set PI2PI_SERVER, or put server=HOST:PORT in " + DefaultFile)
	}
	if _, port, err := net.SplitHostPort(c.Server); err != nil || port == "" {
		return nil, fmt.Errorf("server address %q is not HOST:PORT (the pi2pi-server port is usually 8082)", c.Server)
	}
	host, port, err := net.SplitHostPort(c.Listen)
	if err != nil {
		return nil, fmt.Errorf("listen address %q is not IP:PORT, e.g. :8085 or 192.168.1.23:8085", c.Listen)
	}
	if host != "" {
		ip, err := netip.ParseAddr(host)
		if err != nil {
			return nil, fmt.Errorf("listen address %q: %q is not an IP address", c.Listen, host)
		}
		c.ListenIP = ip.Unmap()
	}
	c.PeerPort, err = strconv.Atoi(port)
	if err != nil || c.PeerPort <= 0 || c.PeerPort > 65535 {
		return nil, fmt.Errorf("listen address %q: bad port", c.Listen)
	}
	if c.Control == "" || c.StateDir == "" {
		return nil, errors.New("--control and --state-dir must not be empty")
	}
	if !slices.Contains(keypad.Kinds, c.Keypad) {
		return nil, fmt.Errorf("keypad %q is not one of %s", c.Keypad, strings.Join(keypad.Kinds, ", "))
	}
	if c.Security, err = transport.ParseMode(v["security"]); err != nil {
		return nil, err
	}
	if fp := c.ServerFingerprint; fp != "" && !strings.HasPrefix(fp, "SHA256:") {
		return nil, fmt.Errorf("server fingerprint %q should look like SHA256:... (run `pi2pi-server fingerprint` on the server)", fp)
	}
	durations := []struct {
		name string
		dst  *time.Duration
		min  time.Duration
	}{
		{"keepalive", &c.Keepalive, time.Second},
		{"passcode-timeout", &c.PasscodeTimeout, time.Second},
		{"timeout", &c.Timeout, 10 * time.Millisecond},
	}
	for _, d := range durations {
		x, err := time.ParseDuration(v[d.name])
		if err != nil || x < d.min {
			return nil, fmt.Errorf("%s %q is not a duration of at least %s (e.g. 5m, 30s)", d.name, v[d.name], d.min)
		}
		*d.dst = x
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return nil, fmt.Errorf("log level %q is not one of debug, info, warn, error", c.LogLevel)
	}
	return c, nil
}
