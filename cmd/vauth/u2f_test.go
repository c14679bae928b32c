package main

import "testing"

// TestPythonFido2U2F runs python-fido2's CTAP1 stack (Ctap1 and the polling
// U2fClient) against `vauth run` on the virtual cable;
// testdata/python/u2f.py asserts each step and verifies every registration
// and authentication signature with python-fido2's own verifiers, and uses
// credentials across U2F and CTAP2 in both directions.
func TestPythonFido2U2F(t *testing.T) {
	requirePython(t, "fido2.ctap1")
	runPython(t, startDaemon(t, t.TempDir()), "u2f.py")
}
