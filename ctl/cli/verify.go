package cli

import (
	"context"
	"fmt"

	"github.com/pi2pi/pi2pi/internal/control"
	"github.com/pi2pi/pi2pi/internal/wire"
)

var verifyCmd = &Command{
	Name:    "verify",
	Args:    "<USERID>",
	Summary: "show the safety code and key fingerprints shared with a user",
	Help: `In secure mode, both of you see the same safety code when nobody sits
between your terminals: read it to each other by voice.`,
	Shell: true,
	Run:   runVerify,
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
	rep, err := c.Call(ctx, control.Request{Op: control.OpVerify, UserID: user})
	if err != nil {
		if control.CodeOf(err) != "" {
			return fmt.Errorf("%s", refusal(err, user))
		}
		return err
	}
	if rep.SafetyCode == "" {
		return fmt.Errorf("no safety code for %s: safety codes exist in secure mode only", user)
	}
	inv.Out.Println(fmt.Sprintf("Safety code: %s (compare it with %s by voice)", rep.SafetyCode, user))
	if st := rep.Status; st != nil {
		if st.Fingerprint != "" {
			inv.Out.Println("Your key:    " + st.Fingerprint)
		}
		if st.PeerFingerprint != "" {
			inv.Out.Println(fmt.Sprintf("%s's key: %s", user, st.PeerFingerprint))
		}
	}
	if rep.OldFingerprint != "" {
		inv.Out.Errorln(keyChanged(user, rep.OldFingerprint, rep.PeerFingerprint))
	}
	return nil
}
