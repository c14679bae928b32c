package main

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vauth/vauth/internal/testenv"
)

// TestPythonFido2U2F runs python-fido2's CTAP1 stack (Ctap1 and the polling
// U2fClient) against `vauth run` on the virtual cable;
// testdata/python/u2f.py asserts each step and verifies every registration
// and authentication signature with python-fido2's own verifiers, and uses
// credentials across U2F and CTAP2 in both directions.
func TestPythonFido2U2F(t *testing.T) {
	const python = "/usr/bin/python3"
	testenv.Require(t, exec.Command(python, "-c", "import fido2.ctap1").Run() == nil, "python3-fido2")
	d := startDaemon(t, t.TempDir())
	script := filepath.Join("..", "..", "testdata", "python", "u2f.py")
	out, err := exec.Command(python, script, d.socket).CombinedOutput()
	t.Logf("python-fido2:\n%s", out)
	if err != nil {
		t.Fatalf("U2F interop failed: %v\ndaemon log:\n%s", err, d.log)
	}
	if !strings.Contains(string(out), "all checks passed") {
		t.Fatal("U2F interop script did not finish")
	}
}
