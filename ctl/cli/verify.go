package cli

import (
	"context"
	"flag"
	"fmt"

	"github.com/pi2pi/pi2pi/internal/control"
	"github.com/pi2pi/pi2pi/internal/wire"
)

var verifyCmd = &Command{
	Name:    "verify",
	Args:    "<USERID>",
	Summary: "show the safety code and key fingerprints shared with a user",
	Help: `During a chat, both of you see the same safety code when nobody sits
between your terminals: read it to each other by voice. The code belongs
to that chat's connection; outside a chat, compare the two key
fingerprints in full instead.

With --accept, the key shown becomes the one accepted for that user: a
changed key warns at every chat until you accept it, once you have
compared the code.`,
	Shell: true,
	Flags: func(fs *flag.FlagSet, inv *Invocation) {
		fs.BoolVar(&inv.Accept, "accept", false, "accept the user's key shown")
	},
	Run: runVerify,
}

func runVerify(ctx context.Context, inv *Invocation) error {
	user, err := wire.NormalizeUserID(inv.Args[0])
	if err != nil {
		return usageErrorf("verify: %v", err)
	}
	c, err := inv.Client(ctx)
	if err != nil {
		return err
	}
	op := control.OpVerify
	if inv.Accept {
		op = control.OpAcceptKey
	}
	rep, err := c.Call(ctx, control.Request{Op: op, UserID: user})
	if err != nil {
		if control.CodeOf(err) != "" {
			return fmt.Errorf("%s", refusal(err, user))
		}
		return err
	}
	st := rep.Status
	if rep.SafetyCode == "" && (st == nil || st.PeerFingerprint == "") {
		return fmt.Errorf("no safety code for %s: safety codes exist in secure mode only", user)
	}
	if rep.SafetyCode != "" {
		inv.Out.Println(fmt.Sprintf("Safety code: %s (compare it with %s by voice)", rep.SafetyCode, user))
	} else {
		inv.Out.Println(fmt.Sprintf("No chat with %s now: a safety code belongs to a chat. Compare these fingerprints with %s in full instead:", user, user))
	}
	if st != nil {
		if st.Fingerprint != "" {
			inv.Out.Println("Your key:    " + st.Fingerprint)
		}
		if st.PeerFingerprint != "" {
			inv.Out.Println(fmt.Sprintf("%s's key: %s", user, st.PeerFingerprint))
		}
	}
	if inv.Accept && st != nil {
		inv.Out.Println(fmt.Sprintf("Accepted %s as %s's key.", st.PeerFingerprint, user))
	}
	for _, w := range keyWarnings(rep) {
		inv.Out.Errorln(w)
	}
	return nil
}
