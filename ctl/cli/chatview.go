package cli

// Showing a chat: its start, the text received, its end.

import (
	"fmt"
	"strings"
	"time"

	"github.com/chzyer/readline"
	"github.com/pi2pi/pi2pi/ctl/peertext"
	"github.com/pi2pi/pi2pi/internal/control"
)

func (e *engine) chatStarted(ev control.Reply) {
	e.started = true
	e.peer = ev.Peer
	// On a terminal each line received shows as "bianca> ...", so that no
	// peer line passes for one of ours. A script (neither stdin nor
	// stdout a terminal, e.g. `pi2pictl wait > file`) gets the text as
	// the peer sent it, cleaned, without the label (README "Decisions").
	e.lines.Peer = ""
	e.script = e.rl == nil && !isTerminalWriter(e.inv.Env.Stdout)
	e.midLine = false
	if !e.script {
		e.lines.Peer = ev.Peer
	}
	if e.rl != nil {
		e.lines.Width = readline.GetScreenWidth
	}
	e.recent.add(ev.Peer)
	e.chatTerminal()
	if ev.Direction == control.Incoming {
		if e.rl != nil && e.phase == phDest {
			// Keep the prompt the chat interrupted on screen, as in the
			// course transcript (docs/design.md); what was half typed there is dropped.
			e.out.Println(strings.TrimRight(promptDest, " "))
			e.out.Do(func() { e.rl.Operation.SetBuffer("") })
		}
		e.out.Println(fmt.Sprintf(lineReceivedFmt, peertext.Clean(ev.Peer)))
	} else {
		e.out.Println(lineEstablished)
	}
	if ev.SafetyCode != "" {
		e.out.Println(safetyCodeLine(ev.SafetyCode, ev.Peer))
	}
	for _, w := range keyWarnings(ev) {
		e.out.Errorln(w)
	}
	e.chatOpen = true
	e.setPhase(phChat)
	e.carry, e.endWhy, e.interrupted = runeCarry{}, nil, false
	if s, err := openStream(e.inv.Socket, ev.Token); err != nil {
		// The chat cannot carry text; pi2pid ends it (no-stream).
		e.out.Errorln("pi2pictl: " + streamFailedMsg(err))
	} else {
		e.stream = s
	}
	if e.stream != nil && e.stdin == nil && (e.flow == flowChat || e.flow == flowWait) {
		var buffered []byte
		if pl, ok := e.in.(*pipeLines); ok {
			buffered, _ = pl.r.Peek(pl.r.Buffered())
		}
		e.pump = newPump(e.stream.s, e.inv.Env.Stdin, buffered)
		e.pump.listenOnEmpty = e.flow == flowWait
		go e.pump.run()
	}
	if e.endOnStart {
		e.endChat()
	}
}

// partialLineDelay is how long a partial line received waits for its
// end before it is shown.
const partialLineDelay = 300 * time.Millisecond

// showText shows text received in the chat: its complete lines now, a
// partial line once partialLineDelay passed without its end.
func (e *engine) showText(text string) {
	if e.script {
		// A script gets the text as it arrived, chunk by chunk: no line
		// is cut or ended that the peer did not cut or end.
		if text != "" {
			e.out.Print(text)
			e.midLine = !strings.HasSuffix(text, "\n")
		}
		return
	}
	if ls := e.lines.Add(text); e.rl == nil && len(ls) > 0 {
		// A pipe or a file: one write for the whole chunk.
		e.out.Println(strings.Join(ls, "\n"))
	} else {
		for _, l := range ls {
			e.out.Println(l)
		}
	}
	if e.lines.Pending() {
		e.flushC = time.After(partialLineDelay)
	}
}

// flushPartial shows a partial line that waited partialLineDelay.
func (e *engine) flushPartial() {
	e.flushC = nil
	if e.midLine {
		// A script's text that did not end its last line: end it, so
		// that pi2pictl's next line starts a line of its own.
		e.out.Print("\n")
		e.midLine = false
	}
	if s, ok := e.lines.Flush(); ok {
		e.out.Println(s)
	}
}

func (e *engine) chatEnded(why string) {
	e.endPending = false
	e.drainStream()
	if e.done {
		return // stdout failed while the rest was shown (stdoutFailed)
	}
	e.closeStream()
	e.flushPartial()
	connecting := e.phase == phConnecting
	if connecting && why == "" {
		why = whyEndedUnstarted
	}
	if e.chatOpen {
		e.out.Println(lineEnded)
	}
	e.chatOpen = false
	if why != "" {
		e.out.Errorln(peertext.Clean(why))
	}
	if e.pump != nil {
		// The pump ends soon after the stream (it looks every pumpPoll
		// whether it was stopped): wait, so that what it left unsent is
		// known.
		e.pump.stop()
		<-e.pump.done
	}
	if e.pump != nil && e.pump.unsent.Load() {
		// The peer (or pi2pid) ended the chat while stdin still held
		// text: say so, a script cannot tell otherwise.
		e.out.Errorln("pi2pictl: the chat ended before your input did: the rest of it was not sent.")
	}
	e.started = false
	if e.flow != flowShell || e.quitAfterEnd {
		e.setPhase(phEnded)
		if why != "" || e.inputFailed {
			e.finish(errReported)
		} else {
			e.finish(nil)
		}
		return
	}
	if e.rl != nil && e.reading {
		// A half-typed message is no destination: drop it.
		e.out.Do(func() { e.rl.Operation.SetBuffer("") })
	}
	e.enterDest()
}

// onChatEnd: pi2pid's chat-end. pi2pid has closed the stream: the rest of
// the text is shown first, then the end.
func (e *engine) onChatEnd(ev control.Reply) {
	why := eventWords(ev)
	if e.stream == nil || e.stream.eof {
		e.chatEnded(why)
		return
	}
	e.endWhy = &why
	e.drainStream()
}

// loggedOut: pi2pid logged out after the login; a chat open is over.
func (e *engine) loggedOut(why string) { e.loggedOutSaying(loggedOutMsg(why)) }

// loggedOutSaying is loggedOut with the words to show.
func (e *engine) loggedOutSaying(msg string) {
	if e.chatOpen {
		e.drainStream()
		e.closeStream()
		e.flushPartial()
		e.out.Println(lineEnded)
		e.chatOpen = false
	}
	e.out.Errorln(msg)
	if e.flow != flowShell {
		e.finish(errReported)
		return
	}
	e.started = false
	e.setPhase(phLogin)
}
