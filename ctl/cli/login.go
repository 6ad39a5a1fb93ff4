package cli

import "context"

var loginCmd = &Command{
	Name:    "login",
	Args:    "[USERID]",
	Summary: "log in: asks for the user ID, then the passcode on the keypad",
	Help: `Without USERID, reads it at "Login: ". With pi2pid's console keypad,
the passcode is read here with echo off (Enter or A validates, Backspace
or B deletes, Esc or C cancels); when stdin is not a terminal, one line of
stdin holds it: printf 'ali\n1234\n' | pi2pictl login

When pi2pid is already logged in, it first asks the server whether that
login still holds; if the server forgot it, login goes on as from logged
out. Otherwise login says so and exits 0; when pi2pid is logged in as
someone other than USERID, login exits 1: run pi2pictl logout first.`,
	Run: func(ctx context.Context, inv *Invocation) error {
		return runEngine(ctx, inv, flowLogin)
	},
}
