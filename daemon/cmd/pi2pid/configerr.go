package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"time"

	"github.com/coreos/go-systemd/v22/activation"
	"github.com/pi2pi/pi2pi/internal/control"
)

// Bounds of answerConfigError: it waits this long for one more client,
// and answers for this long in all.
const (
	configErrIdle  = 500 * time.Millisecond
	configErrTotal = 3 * time.Second
)

// answerConfigError runs when pi2pid cannot start because of its settings
// (exit status 2, which the unit's RestartPreventExitStatus= does not
// restart). When systemd passed in the sockets, the connection that
// started pi2pid is still waiting in them: each control client gets a
// hello with CodeConfig and msg as its detail (pi2pictl prints it instead of timing out), each
// waiting peer connection is closed. Leaving them queued would make
// systemd start pi2pid again at once, over and over.
func answerConfigError(msg string) {
	named, err := activation.ListenersWithNames()
	if err != nil {
		return
	}
	for name, ls := range named {
		for _, l := range ls {
			answer := func(c net.Conn) { c.Close() }
			if _, unix := l.(*net.UnixListener); unix || name == "control" {
				answer = func(c net.Conn) { sendConfigError(c, msg) }
			}
			drain(l, answer)
			l.Close()
		}
	}
}

// drain accepts the connections waiting on l (and those that arrive soon
// after) and hands each to answer.
func drain(l net.Listener, answer func(net.Conn)) {
	dl, ok := l.(interface{ SetDeadline(time.Time) error })
	if !ok {
		return
	}
	end := time.Now().Add(configErrTotal)
	for time.Now().Before(end) {
		next := time.Now().Add(configErrIdle)
		if next.After(end) {
			next = end
		}
		_ = dl.SetDeadline(next)
		c, err := l.Accept()
		if err != nil {
			return
		}
		answer(c)
	}
}

// sendConfigError reads the client's hello and answers with a hello that
// carries the error.
func sendConfigError(c net.Conn, msg string) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	_, _ = bufio.NewReader(c).ReadString('\n')
	_ = json.NewEncoder(c).Encode(control.Reply{Type: control.TypeHello, Version: control.Version,
		Daemon: "pi2pid " + version, Code: control.CodeConfig, Error: msg})
}

// configErrorDetail is the detail of the CodeConfig hello: which file and
// what is wrong (pi2pictl words it, with what to do).
func configErrorDetail(err error, file string) string {
	return fmt.Sprintf("%s: %v", file, err)
}
