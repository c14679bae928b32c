package main

import (
	"context"
	"slices"
	"testing"
	"time"

	gowebauthn "github.com/go-webauthn/webauthn/webauthn"

	"github.com/go-webauthn/webauthn/protocol"

	"github.com/vauth/vauth/attestation"
	"github.com/vauth/vauth/internal/demo"
	"github.com/vauth/vauth/keystore/tpm/tpmtest"
)

// runExtensionsScript runs testdata/python/extensions.py in phase against
// the daemon d and fails the test unless every check passes.
func runExtensionsScript(t *testing.T, d *daemonProc, phase string) {
	t.Helper()
	requirePython(t, "fido2.ctap2.blob")
	runPython(t, d, "extensions.py", phase)
}

// TestPythonFido2Extensions runs python-fido2's extension classes against
// `vauth run` on the virtual cable (testdata/python/extensions.py):
// hmac-secret with both PIN/UV auth protocols, credProtect, credBlob,
// largeBlobKey with the large-blob array, and minPinLength.
func TestPythonFido2Extensions(t *testing.T) {
	runExtensionsScript(t, startDaemon(t, t.TempDir()), "main")
}

// TestPythonFido2ExtensionsTPM runs the hmac-secret checks against a TPM
// store on swtpm, where CredRandom comes from TPM2_HMAC.
func TestPythonFido2ExtensionsTPM(t *testing.T) {
	sw := tpmtest.StartSwtpm(t, t.TempDir())
	runExtensionsScript(t, startDaemon(t, t.TempDir(), "--keystore", "tpm", "--tpm", sw.Device, "--attestation", "packed"), "hmac")
}

// TestAttestationPolicy: `vauth run --attestation --aaguid` lets a relying
// party test an attestation-enforcing, AAGUID-restricted policy. go-webauthn
// verifies each registration (a packed basic statement's certificate names
// the AAGUID of the authenticator data); a policy that trusts an AAGUID only
// with such a certificate and allows only AAGUID A accepts the run with A
// and refuses the one with B; a block-list of B does the opposite; both
// refuse self attestation and "none", which vouch for no AAGUID.
func TestAttestationPolicy(t *testing.T) {
	const aaguidA, aaguidB = "a11a11a1-0000-4000-8000-000000000001", "b10cb10c-0000-4000-8000-000000000002"
	// certified is the AAGUID a certificate vouches for, "" without one.
	certified := func(c *gowebauthn.Credential) string {
		if c.AttestationType != "basic_full" || len(c.Authenticator.AAGUID) != 16 {
			return ""
		}
		return attestation.FormatAAGUID([16]byte(c.Authenticator.AAGUID))
	}
	allowA := func(c *gowebauthn.Credential) bool { return slices.Contains([]string{aaguidA}, certified(c)) }
	blockB := func(c *gowebauthn.Credential) bool {
		return certified(c) != "" && !slices.Contains([]string{aaguidB}, certified(c))
	}
	for _, tc := range []struct {
		name           string
		args           []string
		allowA, blockB bool
	}{
		{"packed, AAGUID A", []string{"--attestation", "packed", "--aaguid", aaguidA}, true, true},
		{"packed, AAGUID B", []string{"--attestation", "packed", "--aaguid", aaguidB}, false, false},
		{"self, AAGUID A", []string{"--attestation", "self", "--aaguid", aaguidA}, false, false},
		{"none, AAGUID A", []string{"--attestation", "none", "--aaguid", aaguidA}, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := startDaemon(t, t.TempDir(), tc.args...)
			rp, err := demo.NewRP(demo.RPID, demo.Origin)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			cred, err := rp.Register(ctx, dialClient(t, d), &demo.User{ID: []byte("policy"), Name: "policy"},
				gowebauthn.WithConveyancePreference(protocol.PreferDirectAttestation))
			if err != nil {
				t.Fatalf("go-webauthn refused the registration: %v\n%s", err, d.log)
			}
			t.Logf("format %q, type %q, certified AAGUID %q", cred.AttestationFormat, cred.AttestationType, certified(cred))
			if got := allowA(cred); got != tc.allowA {
				t.Errorf("allow-list [A] accepts: %v, want %v", got, tc.allowA)
			}
			if got := blockB(cred); got != tc.blockB {
				t.Errorf("block-list [B] accepts: %v, want %v", got, tc.blockB)
			}
		})
	}
}
