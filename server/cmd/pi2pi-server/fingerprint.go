package main

import (
	"fmt"
	"io"
	"path/filepath"

	"github.com/pi2pi/pi2pi/internal/transport"
)

func cmdFingerprint(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("fingerprint", stderr)
	stateDir := fs.String("state-dir", env("PI2PI_SERVER_STATE_DIR", defaultStateDir), "state directory holding identity.key")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("fingerprint takes no arguments")
	}
	id, err := transport.LoadOrCreateIdentity(filepath.Join(*stateDir, identityFile))
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, transport.Fingerprint(id.Public))
	return nil
}
