package directory

import (
	"slices"
	"testing"
	"time"

	"github.com/pi2pi/pi2pi/internal/credential"
	"github.com/pi2pi/pi2pi/internal/wire"
	"github.com/pi2pi/pi2pi/server/guard"
)

// refusalTimes measures n refusals of each kind, interleaved so that load
// from other processes hits all three alike.
func refusalTimes(t testing.TB, h *harness, n int) map[string][]time.Duration {
	tm := h.terminal("127.0.0.2")
	p := guard.DefaultPolicy
	// Lock bianca's account for everybody: failures from many addresses.
	for i := 0; i < p.LockAfter; i++ {
		h.terminal(freshAddr(i)).exchange(wire.Message{Type: wire.AuthReq, UserID: "bianca", Passcode: "wrong"})
	}
	kinds := map[string]wire.Message{
		"unknown user":   {Type: wire.AuthReq, UserID: "zed", Passcode: credential.FromDigits("zed", []byte("1234"))},
		"wrong passcode": {Type: wire.AuthReq, UserID: "ali", Passcode: credential.FromDigits("ali", []byte("9999"))},
		"locked account": {Type: wire.AuthReq, UserID: "bianca", Passcode: credentialOf("bianca")},
	}
	out := map[string][]time.Duration{}
	for i := 0; i < n; i++ {
		for name, m := range kinds {
			c := tm.dial()
			start := time.Now()
			wire.Write(c, m)
			raw, err := wire.NewDecoder(c).Next()
			el := time.Since(start)
			c.Close()
			if err != nil || string(raw) != `{"msgtype":"AUTHREPLY","userid":"","status":"REFUSED"}` {
				t.Fatalf("%s: %s %v", name, raw, err)
			}
			out[name] = append(out[name], el)
		}
		// ali must stay unlocked (as after `user unlock`; the clock stands
		// still, so bianca's lock lasts), and nothing may be throttled by
		// source (the callers' bursts are large).
		h.guard.Decide("ali", h.clock.Now(), tm.ip, true)
	}
	return out
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

// TestRefusalTimingIsUniform checks that an unknown user, a wrong passcode
// and a locked account cost the same argon2 work: their median times
// differ by less than the spread of the argon2 time itself. (A server that
// skipped argon2 for unknown users or locked accounts answers those in a
// fraction of the time and fails here.) Precise figures: BenchmarkRefusals.
func TestRefusalTimingIsUniform(t *testing.T) {
	p := guard.DefaultPolicy
	p.SourceBurst = 1000
	h := startServer(t, harnessOpts{policy: &p})
	times := refusalTimes(t, h, 9)
	var all []time.Duration
	meds := map[string]time.Duration{}
	for k, v := range times {
		meds[k] = median(v)
		all = append(all, v...)
	}
	slices.Sort(all)
	// Noise: the interquartile range of all samples, at least a quarter
	// of the median (the machine is shared; a skipped hash costs ~100%).
	mid := all[len(all)/2]
	noise := max(all[3*len(all)/4]-all[len(all)/4], mid/4)
	t.Logf("medians %v, noise %v", meds, noise)
	for a, ma := range meds {
		for b, mb := range meds {
			if d := ma - mb; d > noise {
				t.Errorf("%s takes %v, %s %v: difference %v exceeds the argon2 noise %v", a, ma, b, mb, d, noise)
			}
		}
	}
}
