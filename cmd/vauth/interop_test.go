package main

import (
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/vauth/vauth/internal/testenv"
)

// TestPythonFido2 runs python-fido2's own client stack against `vauth run`
// on the virtual cable; testdata/python/interop.py asserts each step and
// verifies every result with python-fido2's Fido2Server.
func TestPythonFido2(t *testing.T) {
	const python = "/usr/bin/python3"
	testenv.Require(t, exec.Command(python, "-c", "import fido2").Run() == nil, "python3-fido2")
	d := startDaemon(t, t.TempDir())
	script := filepath.Join("..", "..", "testdata", "python", "interop.py")
	out, err := exec.Command(python, script, d.socket).CombinedOutput()
	t.Logf("python-fido2:\n%s", out)
	if err != nil {
		t.Fatalf("interop failed: %v\ndaemon log:\n%s", err, d.log)
	}
	if !strings.Contains(string(out), "all checks passed") {
		t.Fatal("interop script did not finish")
	}
}

// TestPythonFido2PIN runs testdata/python/pin.py: ClientPin with both
// PIN/UV auth protocols, built-in user verification, Fido2Client with
// user_verification "required" against Fido2Server, CredentialManagement
// and Config, on `vauth run --uv always`; then the lockout rules across
// daemon restarts (SIGTERM, start again on the same store): three wrong
// PINs need a power cycle, the retry counter persists, eight block the PIN
// until authenticatorReset.
func TestPythonFido2PIN(t *testing.T) {
	const python = "/usr/bin/python3"
	testenv.Require(t, exec.Command(python, "-c", "import fido2.ctap2.credman").Run() == nil, "python3-fido2")
	script := filepath.Join("..", "..", "testdata", "python", "pin.py")
	run := func(d *daemonProc, phase string) {
		t.Helper()
		out, err := exec.Command(python, script, d.socket, phase).CombinedOutput()
		t.Logf("python-fido2 %s:\n%s", phase, out)
		if err != nil || !strings.Contains(string(out), "all checks passed") {
			t.Fatalf("phase %s failed: %v\ndaemon log:\n%s", phase, err, d.log)
		}
	}
	run(startDaemon(t, t.TempDir(), "--uv", "always"), "main")

	store := t.TempDir()
	d := startDaemon(t, store)
	for _, phase := range []string{"lockout", "restarted", "drain", "blocked"} {
		run(d, phase)
		d.kill(syscall.SIGTERM)
		if d.cmd.ProcessState == nil || !d.cmd.ProcessState.Success() {
			t.Fatalf("vauth run did not stop cleanly on SIGTERM: %v\n%s", d.cmd.ProcessState, d.log)
		}
		d = startDaemon(t, store)
	}
	run(d, "reset")
}
