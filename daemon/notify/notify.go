// Package notify tells systemd about pi2pid (Type=notify): READY=1,
// STATUS= with the state in words, STOPPING=1 and WATCHDOG=1 at half the
// watchdog interval. Outside systemd every call is a cheap no-op.
package notify

import (
	"context"
	"log/slog"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
)

// Ready sends READY=1 and a first STATUS=.
func Ready(status string) { send(daemon.SdNotifyReady + "\nSTATUS=" + status) }

// Status sends STATUS=.
func Status(s string) { send("STATUS=" + s) }

// Stopping sends STOPPING=1.
func Stopping() { send(daemon.SdNotifyStopping) }

func send(state string) {
	if _, err := daemon.SdNotify(false, state); err != nil {
		slog.Debug("sd_notify failed", "err", err)
	}
}

// Watchdog pings systemd at half of WATCHDOG_USEC until ctx ends. Without
// a watchdog it returns at once: no timer runs.
func Watchdog(ctx context.Context) {
	d, err := daemon.SdWatchdogEnabled(false)
	if err != nil || d <= 0 {
		return
	}
	t := time.NewTicker(d / 2)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			send(daemon.SdNotifyWatchdog)
		}
	}
}
