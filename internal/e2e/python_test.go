package e2e

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/vauth/vauth/internal/testenv"
)

// TestPythonFido2Hidraw runs testdata/hidraw.py: python-fido2 finds the
// device through its own hidraw backend, and its Fido2Server verifies
// registrations and assertions (ES256 and EdDSA, discoverable and not).
func TestPythonFido2Hidraw(t *testing.T) {
	requireUhid(t)
	testenv.Require(t, exec.Command(python, "-c", "import fido2.hid.linux").Run() == nil, "python3-fido2 for "+python)
	v := startVauth(t, t.TempDir())
	out, stderr, err := runResult(t, "", nil, python, "testdata/hidraw.py", v.hidraw)
	if err != nil || !strings.Contains(out, "all checks passed") {
		t.Fatalf("python-fido2 over %s: %v\n%s%s\nvauth:\n%s", v.hidraw, err, out, stderr, v.log)
	}
	t.Logf("python-fido2 over %s:\n%s", v.hidraw, out)
}
