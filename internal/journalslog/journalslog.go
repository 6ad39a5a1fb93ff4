// Package journalslog sends log/slog records to the systemd journal with
// each attribute as a journal field (REMOTE_IP=…, USER=…), so that
// `journalctl -u pi2pi-server USER=ali` works. Outside systemd, New falls
// back to plain text on stderr.
package journalslog

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/coreos/go-systemd/v22/journal"
)

// Handler is a slog.Handler writing to the journal.
type Handler struct {
	ident  string
	level  slog.Leveler
	attrs  []slog.Attr
	prefix string // group prefix, upper case, ending in '_'
	send   func(msg string, p journal.Priority, vars map[string]string) error
}

// NewHandler returns a journal handler; ident becomes SYSLOG_IDENTIFIER.
func NewHandler(ident string, level slog.Leveler) *Handler {
	return &Handler{ident: ident, level: level, send: journal.Send}
}

// Enabled implements slog.Handler.
func (h *Handler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.level.Level() }

// WithAttrs implements slog.Handler.
func (h *Handler) WithAttrs(as []slog.Attr) slog.Handler {
	c := *h
	c.attrs = append(append([]slog.Attr{}, h.attrs...), prefixed(h.prefix, as)...)
	return &c
}

// WithGroup implements slog.Handler.
func (h *Handler) WithGroup(name string) slog.Handler {
	c := *h
	c.prefix = h.prefix + FieldName(name) + "_"
	return &c
}

func prefixed(prefix string, as []slog.Attr) []slog.Attr {
	if prefix == "" {
		return as
	}
	out := make([]slog.Attr, len(as))
	for i, a := range as {
		out[i] = slog.Attr{Key: prefix + a.Key, Value: a.Value}
	}
	return out
}

// Handle implements slog.Handler.
func (h *Handler) Handle(_ context.Context, r slog.Record) error {
	vars := map[string]string{"SYSLOG_IDENTIFIER": h.ident}
	for _, a := range h.attrs {
		addAttr(vars, "", a)
	}
	r.Attrs(func(a slog.Attr) bool {
		addAttr(vars, h.prefix, a)
		return true
	})
	// The message itself carries the fields too, for `journalctl` without -o verbose.
	var b strings.Builder
	b.WriteString(r.Message)
	for _, a := range h.attrs {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
	}
	r.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s%s=%v", strings.ToLower(h.prefix), a.Key, a.Value)
		return true
	})
	return h.send(b.String(), priority(r.Level), vars)
}

func addAttr(vars map[string]string, prefix string, a slog.Attr) {
	v := a.Value.Resolve()
	if v.Kind() == slog.KindGroup {
		for _, g := range v.Group() {
			addAttr(vars, prefix+FieldName(a.Key)+"_", g)
		}
		return
	}
	if a.Key == "" {
		return
	}
	vars[FieldName(prefix+a.Key)] = v.String()
}

// FieldName turns an attribute key into a valid journal field name:
// upper case letters, digits and '_', not starting with '_' or a digit.
func FieldName(k string) string {
	var b strings.Builder
	for _, c := range strings.ToUpper(k) {
		if c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' {
			b.WriteRune(c)
		} else {
			b.WriteByte('_')
		}
	}
	s := b.String()
	if s == "" || s[0] == '_' || s[0] >= '0' && s[0] <= '9' {
		s = "F" + s
	}
	return s
}

func priority(l slog.Level) journal.Priority {
	switch {
	case l >= slog.LevelError:
		return journal.PriErr
	case l >= slog.LevelWarn:
		return journal.PriWarning
	case l >= slog.LevelInfo:
		return journal.PriInfo
	}
	return journal.PriDebug
}

// New returns a logger for ident: to the journal when the process runs
// under systemd with stderr connected to the journal (JOURNAL_STREAM set
// and matching) and the journal socket is reachable, otherwise text to
// stderr.
func New(ident string, stderr io.Writer, level slog.Leveler) *slog.Logger {
	if os.Getenv("JOURNAL_STREAM") != "" && journal.Enabled() {
		if ok, err := journal.StderrIsJournalStream(); err == nil && ok {
			return slog.New(NewHandler(ident, level))
		}
	}
	return slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
}
