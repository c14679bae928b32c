package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestFido2PIN: libfido2's PIN management against the uhid device.
// fido2-token -S sets a PIN and -C changes it (the old PIN stops working),
// fido2-cred -M -v makes a credential with user verification by PIN (and
// fido2-cred -V -v insists on the UV flag), and fido2-token -D -i deletes a
// discoverable credential, which -L -k and fido2-assert then no longer find.
func TestFido2PIN(t *testing.T) {
	tools := requireFido2Tools(t)
	v := startVauth(t, t.TempDir())
	const rpID, oldPIN, newPIN = "pin.example.org", "1357-old", "2468-new"
	doomed := makeCredential(t, tools, v.hidraw, rpID, "es256", true)

	run(t, lines(oldPIN, oldPIN), nil, tools.token, "-S", v.hidraw)
	run(t, lines(oldPIN, newPIN, newPIN), nil, tools.token, "-C", v.hidraw)
	if _, stderr, err := runResult(t, lines(oldPIN), nil, tools.token, "-L", "-r", v.hidraw); err == nil {
		t.Errorf("fido2-token -L -r accepted the old PIN after -C: %s", stderr)
	}
	if out := run(t, lines(newPIN), nil, tools.token, "-L", "-r", v.hidraw); !strings.Contains(out, rpID) {
		t.Errorf("fido2-token -L -r with the new PIN lists %q, want %s", out, rpID)
	}

	// A UV credential: the device answers PIN_REQUIRED and fido2-cred asks
	// for the PIN (without -q) on stdin, so its parameters come from a file.
	params := filepath.Join(t.TempDir(), "cred_param")
	if err := os.WriteFile(params, []byte(lines(b64(randomBytes(32)), rpID, "uv-user", b64(randomBytes(16)))), 0o600); err != nil {
		t.Fatal(err)
	}
	made := run(t, lines(newPIN), nil, tools.cred, "-M", "-r", "-v", "-i", params, v.hidraw, "es256")
	verified := run(t, made, nil, tools.cred, "-V", "-v", "es256")
	uvID, _, _ := strings.Cut(verified, "\n")

	listed := func() []string {
		var ids []string
		for _, c := range parseTokenCredentials(t, run(t, lines(newPIN), nil, tools.token, "-L", "-k", rpID, v.hidraw)) {
			ids = append(ids, c.id)
		}
		return ids
	}
	if ids := listed(); len(ids) != 2 || !strings.Contains(strings.Join(ids, " "), doomed.id) || !strings.Contains(strings.Join(ids, " "), uvID) {
		t.Fatalf("fido2-token -L -k %s lists %v, want %s and %s", rpID, ids, doomed.id, uvID)
	}
	run(t, lines(newPIN), nil, tools.token, "-D", "-i", doomed.id, v.hidraw)
	if ids := listed(); len(ids) != 1 || ids[0] != uvID {
		t.Fatalf("after fido2-token -D -i, -L -k lists %v, want only %s", ids, uvID)
	}
	in := lines(b64(randomBytes(32)), rpID, doomed.id)
	if _, stderr, err := runResult(t, in, nil, tools.assert, "-G", "-p", v.hidraw); err == nil {
		t.Errorf("fido2-assert with the deleted credential succeeded: %s", stderr)
	}
}
