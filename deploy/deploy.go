// Package deploy holds what installs and runs pi2pi on a machine: the
// systemd units (systemd/), sysusers.d and tmpfiles.d snippets, the example
// config files for /etc/pi2pi (config/), the man pages, the nfpm package
// configs with their maintainer scripts, and build-deb.sh.
//
// Its Go code turns the system units into units for a systemd user manager
// (UserUnit), so tests run the very same files under a real `systemd
// --user`; the tests beside it check the units with systemd-analyze, build
// and install the packages, and cross-build for the Raspberry Pi.
package deploy

import (
	"path/filepath"
	"runtime"
)

// Dir returns the directory of this package's files (deploy/ in the
// source tree), found from the location of this source file.
func Dir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(file)
}
