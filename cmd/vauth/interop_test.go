package main

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestPythonFido2 runs python-fido2's own client stack against `vauth run`
// on the virtual cable; testdata/python/interop.py asserts each step and
// verifies every result with python-fido2's Fido2Server.
func TestPythonFido2(t *testing.T) {
	const python = "/usr/bin/python3"
	requireTool(t, exec.Command(python, "-c", "import fido2").Run() == nil, "python3-fido2")
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
