package directory

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pi2pi/pi2pi/internal/credential"
	"github.com/pi2pi/pi2pi/internal/wire"
	"github.com/pi2pi/pi2pi/server/guard"
)

// freshAddr returns the n-th of many loopback addresses, none of them
// 127.0.0.x, which the other tests use.
func freshAddr(n int) string { return fmt.Sprintf("127.0.%d.%d", 10+n/200, 1+n%200) }

// Issue 11 item 4: nine wrong guesses from fresh addresses before each of
// ali's own logins. Today's fix makes them add up to a lock; before it,
// each success reset the count and the guessing went on for ever.
func TestSpreadOutGuessingEndsInLock(t *testing.T) {
	h := startServer(t, harnessOpts{})
	ali := h.terminal("127.0.0.2")
	n := 0
	for round := 1; round <= 4; round++ {
		for i := 0; i < 9; i++ {
			wantStatus(t, h.terminal(freshAddr(n)).login("ali", "0000"), wire.AuthReply, wire.Refused)
			n++
		}
		h.clock.Advance(2 * time.Minute) // past any delay
		if ali.login("ali", "1234").Status == wire.Refused {
			t.Logf("ali is locked out after %d guesses in %d rounds", n, round)
			return
		}
	}
	t.Fatalf("%d wrong guesses spread between ali's logins, and no lock or delay stopped them", n)
}

// Issue 11 item 4: at login the user is told how many attempts failed
// since her last login; nothing is added when there were none.
func TestFailedAttemptsToldAtLogin(t *testing.T) {
	h := startServer(t, harnessOpts{})
	ali := h.terminal("127.0.0.2")
	for i := 0; i < 3; i++ {
		wantStatus(t, h.terminal(freshAddr(i)).login("ali", "0000"), wire.AuthReply, wire.Refused)
	}
	req := wire.Message{Type: wire.AuthReq, UserID: "ali", Passcode: credentialOf("ali")}
	if got, want := string(ali.exchange(req)), `{"msgtype":"AUTHREPLY","userid":"ali","status":"GRANTED","failedattempts":"3"}`; got != want {
		t.Fatalf("first login: %s, want %s", got, want)
	}
	if got, want := string(ali.exchange(req)), `{"msgtype":"AUTHREPLY","userid":"ali","status":"GRANTED"}`; got != want {
		t.Fatalf("second login: %s, want %s", got, want)
	}
}

// Issue 11 item 5: a lock ends by itself (escalating), so ali gets back in
// without an administrator.
func TestLockExpiresWithoutAdministrator(t *testing.T) {
	p := guard.DefaultPolicy
	h := startServer(t, harnessOpts{})
	ali := h.terminal("127.0.0.2")
	for i := 0; i < p.LockAfter; i++ {
		wantStatus(t, h.terminal(freshAddr(i)).login("ali", "0000"), wire.AuthReply, wire.Refused)
	}
	h.clock.Advance(p.LockBase - time.Second)
	wantStatus(t, ali.login("ali", "1234"), wire.AuthReply, wire.Refused)
	h.clock.Advance(time.Second)
	wantStatus(t, ali.login("ali", "1234"), wire.AuthReply, wire.Granted)
	// One more wrong guess: locked again, for twice as long.
	wantStatus(t, h.terminal(freshAddr(p.LockAfter)).login("ali", "0000"), wire.AuthReply, wire.Refused)
	h.clock.Advance(p.LockBase)
	wantStatus(t, ali.login("ali", "1234"), wire.AuthReply, wire.Refused)
	h.clock.Advance(p.LockBase)
	wantStatus(t, ali.login("ali", "1234"), wire.AuthReply, wire.Granted)
}

// Issue 11 item 5: one address that guesses at two accounts (20 wrong
// passcodes, its whole burst) locks neither of them for their owners, and
// is itself stopped.
func TestOneAddressCannotLockAccounts(t *testing.T) {
	h := startServer(t, harnessOpts{})
	attacker := h.terminal("127.0.0.9")
	for i := 0; i < 10; i++ {
		for _, u := range []string{"ali", "bianca"} {
			wantStatus(t, attacker.login(u, "0000"), wire.AuthReply, wire.Refused)
		}
	}
	h.clock.Advance(2 * time.Minute) // past any delay, inside any lock
	wantStatus(t, h.terminal("127.0.0.2").login("ali", "1234"), wire.AuthReply, wire.Granted)
	wantStatus(t, h.terminal("127.0.0.3").login("bianca", "5678"), wire.AuthReply, wire.Granted)
	wantStatus(t, attacker.login("ali", "1234"), wire.AuthReply, wire.Refused)
}

// Issue 11 item 6: 64 parallel AUTHREQs from one address. Only the
// per-source burst (20) may be checked and counted; the rest are refused
// before any argon2 work.
func TestParallelBurstIsReservedBeforeHashing(t *testing.T) {
	h := startServer(t, harnessOpts{})
	const n = 64
	var wg sync.WaitGroup
	replies := make([][]byte, n)
	start := make(chan struct{})
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tm := h.terminal("127.0.0.9")
			c := tm.dial()
			defer c.Close()
			<-start
			user := fmt.Sprint("u", i)
			wire.Write(c, wire.Message{Type: wire.AuthReq, UserID: user, Passcode: credential.FromDigits(user, []byte("0000"))})
			raw, err := wire.NewDecoder(c).Next()
			if err != nil {
				t.Errorf("%s: no reply: %v", user, err)
			}
			replies[i] = bytes.Clone(raw)
		}()
	}
	close(start)
	wg.Wait()
	for i, r := range replies {
		if string(r) != `{"msgtype":"AUTHREPLY","userid":"","status":"REFUSED"}` {
			t.Errorf("reply %d: %s", i, r)
		}
	}
	logs := h.logs.String()
	checked := strings.Count(logs, `reason="unknown user"`)
	early := strings.Count(logs, "too many failures from this address")
	if checked != guard.DefaultPolicy.SourceBurst {
		t.Fatalf("%d of %d parallel attempts were checked and counted; want %d",
			checked, n, guard.DefaultPolicy.SourceBurst)
	}
	// Every reply was REFUSED (above); the early refusals, one per
	// request, are logged at a bounded rate.
	if early < 1 || early > remoteLogBurst {
		t.Fatalf("%d early refusals wrote %d log lines; want 1 to %d", n-checked, early, remoteLogBurst)
	}
}
