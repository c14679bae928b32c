package e2e

// libfido2's command-line tools against the uhid device. fido2-cred and
// fido2-assert read and write newline-separated base64 blobs and strings;
// the formats are in their man pages (INPUT FORMAT, OUTPUT FORMAT).

import (
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// fido2Tools are the paths of libfido2's tools.
type fido2Tools struct{ token, cred, assert string }

func requireFido2Tools(t *testing.T) fido2Tools {
	t.Helper()
	return fido2Tools{
		token:  requireTool(t, "fido2-token", "fido2-tools"),
		cred:   requireTool(t, "fido2-cred", "fido2-tools"),
		assert: requireTool(t, "fido2-assert", "fido2-tools"),
	}
}

// credential is what fido2-cred -M made and fido2-cred -V verified.
type credential struct {
	rpID      string
	alg       string // fido2-cred's type: es256, es384, rs256 or eddsa
	resident  bool
	userID    string // base64
	id        string // base64 credential ID
	publicKey string // path of the PEM public key fido2-cred -V wrote
	authData  string // base64, as fido2-cred -M printed it
}

// makeCredential makes a credential on dev with fido2-cred -M and verifies
// its attestation with fido2-cred -V, which prints the credential ID and
// public key.
func makeCredential(t *testing.T, tools fido2Tools, dev, rpID, alg string, resident bool) credential {
	t.Helper()
	c := credential{rpID: rpID, alg: alg, resident: resident, userID: b64(randomBytes(16))}
	in := lines(b64(randomBytes(32)), rpID, "user-"+alg, c.userID)
	args := []string{"-M", "-q"}
	if resident {
		args = append(args, "-r")
	}
	made := run(t, in, nil, tools.cred, append(args, dev, alg)...)
	// client data hash, rp id, format, authenticator data, credential ID,
	// signature, certificate (packed basic attestation has one).
	fields := strings.Split(strings.TrimSuffix(made, "\n"), "\n")
	if len(fields) < 6 || fields[1] != rpID {
		t.Fatalf("fido2-cred -M printed %d lines, want at least 6 with rp id %q:\n%s", len(fields), rpID, made)
	}
	if fields[2] != "packed" {
		t.Errorf("attestation format %q, want packed (vauth run's default)", fields[2])
	}

	verified := run(t, made, nil, tools.cred, "-V", alg)
	id, pem, ok := strings.Cut(verified, "\n")
	if !ok || id != fields[4] || !strings.HasPrefix(pem, "-----BEGIN PUBLIC KEY-----") {
		t.Fatalf("fido2-cred -V printed %q, want the credential ID %s and a PEM public key", verified, fields[4])
	}
	c.id, c.authData = id, fields[3]
	c.publicKey = filepath.Join(t.TempDir(), "pubkey.pem")
	if err := os.WriteFile(c.publicKey, []byte(pem), 0o600); err != nil {
		t.Fatal(err)
	}
	return c
}

// getAssertion asks dev for an assertion with user presence by c's ID, or,
// for a discoverable credential, by its RP alone; it returns fido2-assert
// -G's output after checking the user handle it reports.
func getAssertion(t *testing.T, tools fido2Tools, dev string, c credential) string {
	t.Helper()
	args := []string{"-G", "-p"}
	in := lines(b64(randomBytes(32)), c.rpID)
	if c.resident {
		args = append(args, "-r")
	} else {
		in += lines(c.id)
	}
	out := run(t, in, nil, tools.assert, append(args, dev)...)
	fields := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	// client data hash, rp id, authenticator data, signature, then the
	// user ID of a discoverable credential.
	want := 4
	if c.resident {
		want = 5
	}
	if len(fields) != want || fields[1] != c.rpID {
		t.Fatalf("fido2-assert -G printed %d lines, want %d for rp id %q:\n%s", len(fields), want, c.rpID, out)
	}
	if c.resident && fields[4] != c.userID {
		t.Errorf("assertion's user ID %s, want %s", fields[4], c.userID)
	}
	return out
}

// verifyAssertion checks an assertion with fido2-assert -V -p against a
// public key of type alg: the signature and the user-presence flag.
func verifyAssertion(t *testing.T, tools fido2Tools, assertion, publicKey, alg string) error {
	t.Helper()
	_, stderr, err := runResult(t, assertion, nil, tools.assert, "-V", "-p", publicKey, alg)
	if err != nil {
		return fmt.Errorf("fido2-assert -V: %w: %s", err, stderr)
	}
	return nil
}

func TestFido2Token(t *testing.T) {
	tools := requireFido2Tools(t)
	const aaguid = "76617574-682d-6532-652d-746573742121"
	v := startVauth(t, t.TempDir(), "--aaguid", aaguid, "--vid", "0x1209", "--pid", "0x000f")

	list := run(t, "", nil, tools.token, "-L")
	if want := v.hidraw + ": vendor=0x1209, product=0x000f"; !strings.Contains(list, want) {
		t.Errorf("fido2-token -L lacks %q:\n%s", want, list)
	}
	info := run(t, "", nil, tools.token, "-I", v.hidraw)
	for _, want := range []struct{ field, value string }{
		{"proto", "0x02"},
		{"version strings", "FIDO_2_0"},
		{"transport strings", "usb"},
		{"algorithms", "es256 (public-key)"},
		{"algorithms", "eddsa (public-key)"},
		{"aaguid", strings.ReplaceAll(aaguid, "-", "")},
		{"options", "rk"},
		{"options", "up"},
		{"options", "noplat"},
	} {
		if !slices.Contains(infoField(info, want.field), want.value) {
			t.Errorf("fido2-token -I's %q lacks %q:\n%s", want.field, want.value, info)
		}
	}
	t.Logf("fido2-token -L:\n%sfido2-token -I %s:\n%s", list, v.hidraw, info)
}

func TestFido2CredAssert(t *testing.T) {
	tools := requireFido2Tools(t)
	v := startVauth(t, t.TempDir())
	tests := []struct {
		alg      string
		resident bool
	}{
		{"es256", false},
		{"es256", true},
		{"eddsa", false},
		{"eddsa", true},
	}
	made := map[string]credential{}
	for _, tc := range tests {
		name := fmt.Sprintf("%s/resident=%v", tc.alg, tc.resident)
		t.Run(name, func(t *testing.T) {
			// One RP per case, so that a discoverable assertion finds
			// exactly this case's credential.
			rpID := fmt.Sprintf("%s-rk%v.example.org", tc.alg, tc.resident)
			c := makeCredential(t, tools, v.hidraw, rpID, tc.alg, tc.resident)
			made[name] = c
			for i := range 2 {
				if err := verifyAssertion(t, tools, getAssertion(t, tools, v.hidraw, c), c.publicKey, tc.alg); err != nil {
					t.Errorf("assertion %d: %v", i+1, err)
				}
			}
		})
	}

	// The verification is real: an assertion does not verify with another
	// credential's key.
	a, b := made["es256/resident=false"], made["es256/resident=true"]
	if a.id == "" || b.id == "" {
		t.Fatal("the es256 cases did not make their credentials")
	}
	if err := verifyAssertion(t, tools, getAssertion(t, tools, v.hidraw, a), b.publicKey, "es256"); err == nil {
		t.Error("fido2-assert -V accepted an assertion with another credential's public key")
	}
}

// infoField returns the comma-separated values of one "name: values" line
// of fido2-token -I's output.
func infoField(info, name string) []string {
	for line := range strings.Lines(info) {
		if values, ok := strings.CutPrefix(strings.TrimSpace(line), name+": "); ok {
			return strings.Split(values, ", ")
		}
	}
	return nil
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// lines joins fields into fido2-cred/fido2-assert input, one per line.
func lines(fields ...string) string { return strings.Join(fields, "\n") + "\n" }
