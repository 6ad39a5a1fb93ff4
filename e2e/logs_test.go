package e2e

import (
	"os/exec"
	"strings"
	"syscall"
	"testing"

	"github.com/pi2pi/pi2pi/internal/credential"
	"github.com/pi2pi/pi2pi/internal/transport"
	"github.com/pi2pi/pi2pi/internal/wire"
)

// Passcodes and chat lines of TestNoSecretsInLogs: long and unusual, so
// that a hit in a log is a leak and not a timestamp or a port number.
const (
	logsAliDigits    = "4815162342"
	logsBiancaDigits = "2718281828"
	logsWrongDigits  = "9081726354" // bianca's first, failed try
	logsZoeDigits    = "5049382716" // zoe is not enrolled
	logsHello        = "Quartz jackdaws vex my big sphinx"
	logsReply        = "Pack my box with five dozen liquor jugs"
)

// TestNoSecretsInLogs runs a whole system at debug level (pi2pi-server
// --verbose, pi2pid --log-level debug): two logins, a failed login with a
// wrong passcode, one for a user who does not exist, a chat both ways, a
// logout, and a polite shutdown. Then it reads everything the server and
// both daemons wrote, stderr and stdout, and finds no passcode, no
// credential (whole, or its first or last 16 hex digits) and no chat line.
// The control: the chat lines and passcodes did travel, since pi2pictl
// showed them and the logins succeeded.
func TestNoSecretsInLogs(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			srv := startServer(t, mode, nil, withServerArgs("--verbose"))
			// Enrol as an admin would, keeping what `user add` prints,
			// then have the running server re-read its users (SIGHUP).
			var enrol strings.Builder
			for user, digits := range map[string]string{"ali": logsAliDigits, "bianca": logsBiancaDigits} {
				cmd := exec.Command(serverBin, "user", "add", user, "--users", srv.users, "--state-dir", srv.stateDir)
				cmd.Stdin = strings.NewReader(digits + "\n")
				out, err := cmd.CombinedOutput()
				if err != nil {
					t.Fatalf("pi2pi-server user add %s: %v\n%s", user, err, out)
				}
				enrol.Write(out)
			}
			if err := srv.p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
				t.Fatal(err)
			}
			if err := srv.p.waitUntil(stepTimeout, "the users reloaded", func(out string) bool {
				return strings.Contains(out, "users file loaded") && strings.Contains(out, "users=2")
			}); err != nil {
				t.Fatal(err)
			}
			debug := withDaemonArgs("--log-level", "debug")
			ali, bianca := startTerminal(t, srv, debug), startTerminal(t, srv, debug)

			if out, code := bianca.tryLogin("bianca", logsWrongDigits); code == 0 || strings.Contains(out, "Logged in.") {
				t.Fatalf("a wrong passcode logged bianca in:\n%s", out)
			}
			if out, code := ali.tryLogin("zoe", logsZoeDigits); code == 0 || strings.Contains(out, "Logged in.") {
				t.Fatalf("an unknown user logged in:\n%s", out)
			}
			for _, l := range []struct {
				tm           *terminal
				user, digits string
			}{{ali, "ali", logsAliDigits}, {bianca, "bianca", logsBiancaDigits}} {
				if out, code := l.tm.tryLogin(l.user, l.digits); code != 0 || !strings.Contains(out, "Logged in.") {
					t.Fatalf("%s could not log in (exit %d):\n%s", l.user, code, out)
				}
				l.tm.user = l.user
			}

			in := bianca.answer()
			out := ali.call("bianca")
			in.expect(received("ali"))
			out.say(logsHello)
			in.expect(logsHello)
			in.say(logsReply)
			out.expect(logsReply)
			out.hangUp()
			in.expect(ended)
			out.finish()
			in.finish()
			// A lookup from an address where nobody logged in is refused
			// and logged at debug level: proof that the server logs at
			// debug level at all.
			var stranger *transport.Identity
			if mode == "secure" {
				var err error
				if stranger, err = transport.GenerateIdentity(); err != nil {
					t.Fatal(err)
				}
			}
			if c, err := dialAs(mode, nextIP(), srv.addr, stranger); err != nil {
				t.Fatal(err)
			} else {
				if rep, err := ask(c, wire.Message{Type: wire.LookupReq, UserID: "ali", Lookup: "bianca"}); err != nil || rep.Status == wire.Success {
					t.Errorf("a stranger's lookup as ali: %+v, %v; want NOTFOUND", rep, err)
				}
				c.Close()
			}
			ali.logout()
			for _, p := range []*proc{ali.p, bianca.p, srv.p} {
				p.stop()
			}

			secrets := map[string]string{
				"ali's passcode":               logsAliDigits,
				"bianca's passcode":            logsBiancaDigits,
				"the wrong passcode":           logsWrongDigits,
				"zoe's passcode":               logsZoeDigits,
				"the chat line from ali":       logsHello,
				"the chat line from bianca":    logsReply,
				"a word of ali's chat line":    "sphinx",
				"a word of bianca's chat line": "liquor",
			}
			for name, cred := range map[string]string{
				"ali's credential":       credential.FromDigits("ali", []byte(logsAliDigits)),
				"bianca's credential":    credential.FromDigits("bianca", []byte(logsBiancaDigits)),
				"the wrong credential":   credential.FromDigits("bianca", []byte(logsWrongDigits)),
				"zoe's credential":       credential.FromDigits("zoe", []byte(logsZoeDigits)),
				"a credential, any case": strings.ToUpper(credential.FromDigits("ali", []byte(logsAliDigits))),
			} {
				secrets[name] = cred
				secrets[name+" (first 16)"] = cred[:16]
				secrets[name+" (last 16)"] = cred[len(cred)-16:]
			}
			logs := map[string]string{
				"pi2pi-server":          srv.p.Stderr() + srv.p.Stdout(),
				"pi2pi-server user add": enrol.String(),
				"pi2pid of ali":         ali.p.Stderr() + ali.p.Stdout(),
				"pi2pid of bianca":      bianca.p.Stderr() + bianca.p.Stdout(),
			}
			// The logs cover the run: the failed logins, the passcodes
			// passing through each daemon, and the chat.
			for prog, marks := range map[string][]string{
				"pi2pi-server":     {`"login refused" user=bianca`, `"login refused" user=zoe`, `"login granted" user=ali`, `"login granted" user=bianca`},
				"pi2pid of ali":    {"reading-passcode -> authenticating", `"login failed" USERID=zoe`, "-> chatting"},
				"pi2pid of bianca": {"reading-passcode -> authenticating", `"login failed" USERID=bianca`, "-> chatting"},
			} {
				for _, m := range marks {
					if !strings.Contains(logs[prog], m) {
						t.Errorf("%s's log lacks %s; does it cover the run?\n%s", prog, m, tail(logs[prog], 3000))
					}
				}
			}
			for prog, log := range logs {
				// The server's log really is at debug level. (pi2pid
				// with a console keypad has no debug-only messages to show:
				// its debug messages are about scanning a GPIO keypad.)
				if prog == "pi2pi-server" && !strings.Contains(log, "level=DEBUG") {
					t.Errorf("%s logged nothing at debug level; is it running at debug?\n%s", prog, tail(log, 2000))
				}
				for name, secret := range secrets {
					if n := strings.Count(log, secret); n != 0 {
						t.Errorf("%s's log holds %s (%q) %d times", prog, name, secret, n)
					}
				}
				t.Logf("%s: %d bytes of log, %d lines", prog, len(log), strings.Count(log, "\n"))
			}
		})
	}
}
