//go:build !windows

package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestServiceCommandOutsideWindows(t *testing.T) {
	for _, tt := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"service"}, 2, "service needs an action"},
		{[]string{"service", "install"}, 2, "needs --users FILE and --state-dir DIR"},
		{[]string{"service", "start"}, 1, "Windows services exist only on Windows"},
		{[]string{"service", "install", "--users", "u", "--state-dir", "s"}, 1, "Windows services exist only on Windows"},
	} {
		var out, errb bytes.Buffer
		if code := run(tt.args, nil, &out, &errb); code != tt.code || !strings.Contains(errb.String(), tt.msg) {
			t.Errorf("%q: exit %d, stderr %q; want exit %d and %q", tt.args, code, errb.String(), tt.code, tt.msg)
		}
		if out.Len() != 0 {
			t.Errorf("%q wrote to stdout: %q", tt.args, out.String())
		}
	}
	if _, ok := runAsService([]string{"serve"}); ok {
		t.Error("runAsService ran as a service outside Windows")
	}
}
