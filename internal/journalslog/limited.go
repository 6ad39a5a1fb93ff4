package journalslog

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// Limited returns a logger that passes l's records at the rate of a token
// bucket, burst at once then one every refill, and counts those it drops;
// the next record it passes says how many ("suppressed"). It is for what
// strangers on the network cause: a flood of requests then writes a few
// lines, not one each. Loggers derived from it (With) share the bucket.
func Limited(l *slog.Logger, burst int, refill time.Duration) *slog.Logger {
	lim := &logLimit{now: time.Now, tokens: float64(burst), burst: float64(burst), refill: refill}
	return slog.New(&limitedHandler{Handler: l.Handler(), lim: lim})
}

type limitedHandler struct {
	slog.Handler
	lim *logLimit
}

type logLimit struct {
	now        func() time.Time
	burst      float64
	refill     time.Duration
	mu         sync.Mutex
	tokens     float64
	at         time.Time
	suppressed int
}

// allow takes a token; it returns how many records were dropped since
// the last one allowed.
func (l *logLimit) allow() (bool, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if !l.at.IsZero() {
		l.tokens = min(l.burst, l.tokens+float64(now.Sub(l.at))/float64(l.refill))
	}
	l.at = now
	if l.tokens < 1 {
		l.suppressed++
		return false, 0
	}
	l.tokens--
	n := l.suppressed
	l.suppressed = 0
	return true, n
}

func (h *limitedHandler) Handle(ctx context.Context, r slog.Record) error {
	ok, dropped := h.lim.allow()
	if !ok {
		return nil
	}
	if dropped > 0 {
		r.AddAttrs(slog.Int("suppressed", dropped))
	}
	return h.Handler.Handle(ctx, r)
}

func (h *limitedHandler) WithAttrs(a []slog.Attr) slog.Handler {
	return &limitedHandler{Handler: h.Handler.WithAttrs(a), lim: h.lim}
}

func (h *limitedHandler) WithGroup(name string) slog.Handler {
	return &limitedHandler{Handler: h.Handler.WithGroup(name), lim: h.lim}
}
