package backend

import (
	"testing"

	"github.com/pi2pi/pi2pi/internal/control"
	"github.com/pi2pi/pi2pi/internal/transport"
)

// An owner that cannot show the peer's text (its stdout failed) drops the
// chat: the peer's pi2pid is told the connection broke, not that the chat
// ended well, in both modes. Only the owner of a chat can drop it.
func TestOwnerDropsChat(t *testing.T) {
	for name, mode := range map[string]transport.Mode{"plain": transport.Plain, "secure": transport.Secure} {
		t.Run(name, func(t *testing.T) {
			_, _, _, ali, bianca := pair(t, mode)
			bianca.Refused(control.Request{Op: control.OpDropChat}, control.CodeNoChat)
			ali.Must(control.Request{Op: control.OpChat, UserID: "bianca"})
			bianca.Next(control.EventChatStart)
			ali.Send("hello\n")
			if got := bianca.ReadText("hello\n"); got != "hello\n" {
				t.Fatalf("read %q", got)
			}
			bianca.Must(control.Request{Op: control.OpDropChat})
			if end := ali.Next(control.EventChatEnd); end.Code != control.CodeBroken {
				t.Fatalf("ali's chat ended with %q (%s), want %q", end.Code, end.Error, control.CodeBroken)
			}
			bianca.Next(control.EventChatEnd)
			bianca.WaitState("logged-in")
			ali.WaitState("logged-in")
		})
	}
}
