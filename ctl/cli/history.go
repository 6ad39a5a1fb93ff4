package cli

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/pi2pi/pi2pi/internal/wire"
)

// historyPath returns where the shell keeps its history: the user's state
// directory ($XDG_STATE_HOME/pi2pi, else ~/.local/state/pi2pi). The history
// holds user IDs and shell commands only, never a passcode and never a
// line of a chat.
func historyPath(getenv func(string) string) string {
	dir := getenv("XDG_STATE_HOME")
	if dir == "" || !filepath.IsAbs(dir) {
		home := getenv("HOME")
		if home == "" {
			return ""
		}
		dir = filepath.Join(home, ".local", "state")
	}
	dir = filepath.Join(dir, "pi2pi")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return ""
	}
	return filepath.Join(dir, "history")
}

// maxRecent bounds the recent user IDs offered for completion.
const maxRecent = 50

// recentUsers remembers user IDs for completion, most recent first.
type recentUsers struct {
	mu  sync.Mutex
	ids []string
}

func (r *recentUsers) add(id string) {
	id, err := wire.NormalizeUserID(id)
	if err != nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	out := []string{id}
	for _, old := range r.ids {
		if old != id && len(out) < maxRecent {
			out = append(out, old)
		}
	}
	r.ids = out
}

func (r *recentUsers) list() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.ids...)
}

// load takes the user IDs from a history file, oldest first.
func (r *recentUsers) load(path string) {
	f, err := os.Open(path)
	if err != nil {
		return
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		fields := strings.Fields(s.Text())
		switch {
		case len(fields) == 1 && !strings.HasPrefix(fields[0], "/"):
			r.add(fields[0])
		case len(fields) == 2 && (fields[0] == "/chat" || fields[0] == "/verify"):
			r.add(fields[1])
		}
	}
}

// Completion modes.
const (
	completeNothing = iota // chat text, passcode: Tab is typed as itself
	completeLogin          // user IDs
	completeDest           // user IDs and /commands
)

// completer completes shell commands and recent user IDs for readline.
type completer struct {
	mode   atomic.Int32
	recent *recentUsers
}

// Do implements readline.AutoCompleter: it returns the possible rests of
// the word before pos, and the length of that word.
func (c *completer) Do(line []rune, pos int) ([][]rune, int) {
	mode := c.mode.Load()
	if mode == completeNothing {
		// Chat text: Tab is text, as in a pipe. readline takes Tab for
		// completion only, so the one "completion" is the tab itself.
		return [][]rune{{'\t'}}, 0
	}
	s := string(line[:pos])
	if mode == completeDest && strings.HasPrefix(s, "/") {
		i := strings.IndexByte(s, ' ')
		if i < 0 {
			var out [][]rune
			for _, cmd := range commands() {
				if cmd.Shell && strings.HasPrefix("/"+cmd.Name, s) {
					out = append(out, []rune(strings.TrimPrefix("/"+cmd.Name, s)+" "))
				}
			}
			return out, len([]rune(s))
		}
		name := s[1:i]
		if cmd := lookup(name); cmd == nil || !strings.Contains(cmd.Args, "USERID") {
			return nil, 0
		}
		s = strings.TrimLeft(s[i:], " ")
	}
	if strings.ContainsAny(s, " \t") {
		return nil, 0
	}
	var out [][]rune
	prefix := strings.ToLower(s)
	for _, id := range c.recent.list() {
		if strings.HasPrefix(id, prefix) {
			out = append(out, []rune(id[len(prefix):]+" "))
		}
	}
	return out, len([]rune(s))
}
