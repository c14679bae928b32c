// Package testenv decides what a test does when an outside tool it needs
// (python3-fido2, dbus-daemon, fido2-tools, ...) is missing: skip on a
// developer's machine, but fail where the run promises every test (make test
// sets VAUTH_E2E_REQUIRED=1), so that a missing install never passes as a
// skipped test.
package testenv

import (
	"os"
	"testing"
)

// Required reports whether this run must run every test.
func Required() bool { return os.Getenv("VAUTH_E2E_REQUIRED") != "" }

// Require skips or fails t, as the package comment says, unless ok. what
// names the missing thing and how to get it.
func Require(t testing.TB, ok bool, what string) {
	t.Helper()
	if ok {
		return
	}
	if Required() {
		t.Fatalf("%s is missing, and this run requires every test (VAUTH_E2E_REQUIRED): run `make deps`", what)
	}
	t.Skipf("%s is missing: run `make deps` (make test installs it)", what)
}
