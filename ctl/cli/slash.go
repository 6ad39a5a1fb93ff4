package cli

// Lines typed at a prompt: user IDs and /commands.

import (
	"fmt"
	"strings"

	"github.com/pi2pi/pi2pi/internal/wire"
)

// userIDLine handles a line typed at a prompt that asks for a user ID: a
// blank line is ignored, a /command runs, and anything else must be a user
// ID. A user ID is echoed, kept in the history and returned; anything else
// is refused with a message ending in hint, and the reason returned.
// Blank lines and commands return "", nil.
func (e *engine) userIDLine(line, hint string) (string, error) {
	line = strings.TrimSpace(line)
	if line == "" {
		return "", nil
	}
	if strings.HasPrefix(line, "/") {
		e.saveHistory(line)
		e.shellCommand(line)
		return "", nil
	}
	user, err := wire.NormalizeUserID(line)
	if err != nil {
		e.out.Errorln(sentence(fmt.Sprintf("%q is not a user ID: %v%s", line, err, hint)))
		return "", err
	}
	e.out.Answered(line)
	e.saveHistory(user)
	return user, nil
}

func (e *engine) onDestLine(line string) {
	peer, _ := e.userIDLine(line, " (type /help for commands)")
	if peer == "" {
		return
	}
	e.peer = peer
	e.chat()
}

// shellCommand runs /NAME ARGS from the command table.
func (e *engine) shellCommand(line string) {
	fields := strings.Fields(strings.TrimPrefix(line, "/"))
	if len(fields) == 0 {
		return
	}
	cmd := lookup(fields[0])
	if cmd == nil || !cmd.Shell {
		e.out.Errorln(fmt.Sprintf("unknown command /%s: type /help for the list.", fields[0]))
		return
	}
	if cmd.Slash != nil {
		cmd.Slash(e, fields[1:])
		return
	}
	inv := &Invocation{Env: e.inv.Env, Socket: e.inv.Socket, Out: e.out, client: e.client, shell: true}
	args, err := shellArgs(cmd, inv, fields[1:])
	if err == nil {
		err = cmd.checkArgs(args)
	}
	if err != nil {
		e.out.Errorln(sentence(err.Error()))
		return
	}
	inv.Args = args
	ctx, cancel := callCtx()
	defer cancel()
	if err := cmd.Run(ctx, inv); err != nil {
		e.out.Errorln(explain(err, e.inv.Socket))
		return
	}
	if cmd == logoutCmd {
		e.setPhase(phLogin)
	}
}

// slashChat is /chat USERID: the same as typing USERID at the prompt.
func (e *engine) slashChat(args []string) {
	if e.phase != phDest {
		e.out.Errorln("log in first.")
		return
	}
	if len(args) != 1 {
		e.out.Errorln("/chat takes one user ID, as in /chat bianca.")
		return
	}
	e.onDestLine(args[0])
}
