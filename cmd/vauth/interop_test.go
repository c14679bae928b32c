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
	requirePython(t, "fido2")
	runPython(t, startDaemon(t, t.TempDir()), "interop.py")
}

// python is the interpreter of the python-fido2 interop scripts.
const python = "/usr/bin/python3"

// requirePython skips the test (see testenv.Require) when python cannot
// import module of python-fido2.
func requirePython(t *testing.T, module string) {
	t.Helper()
	testenv.Require(t, exec.Command(python, "-c", "import "+module).Run() == nil, "python3-fido2")
}

// runPython runs testdata/python/script against the daemon's virtual cable,
// with args after the socket, and fails the test unless the script
// succeeds and says "all checks passed".
func runPython(t *testing.T, d *daemonProc, script string, args ...string) {
	t.Helper()
	path := filepath.Join("..", "..", "testdata", "python", script)
	out, err := exec.Command(python, append([]string{path, d.socket}, args...)...).CombinedOutput()
	t.Logf("python-fido2 %s %v:\n%s", script, args, out)
	if err != nil || !strings.Contains(string(out), "all checks passed") {
		t.Fatalf("%s %v failed (or did not finish): %v\ndaemon log:\n%s", script, args, err, d.log)
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
	requirePython(t, "fido2.ctap2.credman")
	run := func(d *daemonProc, phase string) {
		t.Helper()
		runPython(t, d, "pin.py", phase)
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
