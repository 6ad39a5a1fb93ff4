package journalslog

import (
	"log/slog"
	"testing"

	"github.com/coreos/go-systemd/v22/journal"
)

func TestFieldName(t *testing.T) {
	for in, want := range map[string]string{
		"remote_ip": "REMOTE_IP", "user": "USER", "_x": "F_X", "9lives": "F9LIVES", "a.b-c": "A_B_C", "": "F",
	} {
		if got := FieldName(in); got != want {
			t.Errorf("FieldName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestHandlerFields(t *testing.T) {
	var gotMsg string
	var gotPri journal.Priority
	var gotVars map[string]string
	h := NewHandler("pi2pi-server", slog.LevelInfo)
	h.send = func(msg string, p journal.Priority, vars map[string]string) error {
		gotMsg, gotPri, gotVars = msg, p, vars
		return nil
	}
	log := slog.New(h).With("remote_ip", "127.0.0.2").WithGroup("req")
	log.Warn("login refused", "user", "ali")
	if gotPri != journal.PriWarning {
		t.Errorf("priority = %v, want warning", gotPri)
	}
	want := map[string]string{"SYSLOG_IDENTIFIER": "pi2pi-server", "REMOTE_IP": "127.0.0.2", "REQ_USER": "ali"}
	for k, v := range want {
		if gotVars[k] != v {
			t.Errorf("field %s = %q, want %q (all: %v)", k, gotVars[k], v, gotVars)
		}
	}
	if gotMsg != "login refused remote_ip=127.0.0.2 req_user=ali" {
		t.Errorf("message = %q", gotMsg)
	}
	gotMsg = ""
	log.Debug("hidden")
	if gotMsg != "" {
		t.Errorf("debug record was sent at info level")
	}
}
