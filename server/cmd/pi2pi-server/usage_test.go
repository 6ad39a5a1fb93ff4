package main

import (
	"bytes"
	"flag"
	"io"
	"strings"
	"testing"
)

// TestServeHelpListsEveryFlag: `pi2pi-server serve --help` names every
// flag serve accepts, so an administrator can find --max-conns and
// --max-conns-per-ip without reading the source.
func TestServeHelpListsEveryFlag(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run([]string{"serve", "--help"}, nil, &out, &errOut); code != 0 {
		t.Fatalf("serve --help: exit %d\n%s", code, errOut.String())
	}
	fs := newFlagSet("serve", io.Discard)
	if _, _, err := serveFlags(fs, func(string) string { return "" }); err != nil {
		t.Fatal(err)
	}
	fs.VisitAll(func(f *flag.Flag) {
		if !strings.Contains(out.String(), "--"+f.Name+" ") {
			t.Errorf("serve --help does not list --%s (%s)", f.Name, f.Usage)
		}
	})
}
