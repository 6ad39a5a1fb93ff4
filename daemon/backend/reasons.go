package backend

import "github.com/pi2pi/pi2pi/internal/wire"

// knownReasons are the refusal reasons pi2pid passes on to people as the
// callee gave them: those pi2pi terminals send (wire.Reason*), and the
// few that peerlink and the callee's checks give.
var knownReasons = map[string]bool{
	wire.ReasonBusy:        true,
	wire.ReasonAway:        true,
	wire.ReasonNotLoggedIn: true,
	wire.ReasonMismatch:    true,
	reasonCannotVerify:     true,
	reasonNotVerified:      true,
	"malformed request":    true,
	"expected CONNECTREQ":  true,
	"bad initiator":        true,
}

// reasonCannotVerify is the callee's answer when it cannot ask the server.
const reasonCannotVerify = "cannot verify the request with the server"

// reasonNotVerified is the callee's answer when the initiator's login
// does not check out: the server knows no such login, or it is at
// another address or with another key. One wording for all of these, so
// that whoever sends a CONNECTREQ in a third user's name learns nothing
// about that user's login.
const reasonNotVerified = "the caller could not be verified with the server"

// reasonUnknown stands in for a reason pi2pid does not know; the caller's
// pi2pictl is told control.CodeOddReason.
const reasonUnknown = "unknown reason"

// peerReason returns the reason pi2pid passes on for a callee's refusal:
// the reason itself when pi2pid knows it, reasonUnknown otherwise. A
// callee's free text never reaches anyone's screen, whatever it holds.
func peerReason(r string) string {
	if r == "" || knownReasons[r] {
		return r
	}
	return reasonUnknown
}
