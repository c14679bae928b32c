package attestation

import (
	"crypto/sha256"
	"testing"

	"github.com/vauth/vauth/keystore"
	"github.com/vauth/vauth/keystore/tpm"
	"github.com/vauth/vauth/keystore/tpm/tpmtest"
)

// TestTPMAttestEveryAlgorithm: on swtpm and on the simulator (Microsoft's
// reference TPM, whose RSA keys are in CRT form), which both make keys of
// ES256, ES384, ES512, RS256 and PS256, the tpm statement of each (pubArea
// of an ECC key of the credential's curve or of an RSA-2048 key; certInfo
// from TPM2_Certify; alg ES256, the attestation key's) is verified by
// go-webauthn and, for the algorithms it knows, by python-fido2.
func TestTPMAttestEveryAlgorithm(t *testing.T) {
	t.Run("swtpm", func(t *testing.T) {
		tpmAttestEveryAlgorithm(t, tpm.Options{Device: tpmtest.StartSwtpm(t, t.TempDir()).Device})
	})
	t.Run("simulator", func(t *testing.T) { tpmAttestEveryAlgorithm(t, tpm.Options{TPM: tpmtest.Simulator(t)}) })
}

func tpmAttestEveryAlgorithm(t *testing.T, opts tpm.Options) {
	ks, err := tpm.Open(t.TempDir(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ks.Close() })
	att, err := New(KindTPM, DefaultAAGUID, ks, nil)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := LoadOrCreateCA(ks)
	if err != nil {
		t.Fatal(err)
	}
	want := []int{keystore.ES256, keystore.ES384, keystore.ES512, keystore.RS256, keystore.PS256}
	if got := ks.Algorithms(); len(got) != len(want) {
		t.Fatalf("the TPM offers %v, want %v", got, want)
	}
	cdh := sha256.Sum256([]byte(`{"type":"webauthn.create","challenge":"AAAA","origin":"https://example.com"}`))
	for _, alg := range want {
		t.Run(keystore.AlgorithmName(alg), func(t *testing.T) {
			cred := newCredential(t, ks, alg)
			authData := makeAuthData(t, cred, DefaultAAGUID, 0)
			stmt, err := att.Attest(ks, cred, authData, cdh[:])
			if err != nil {
				t.Fatalf("Attest: %v", err)
			}
			if stmt.Format != FormatTPM || stmt.AttStmt[stmtAlg] != keystore.ES256 {
				t.Errorf("fmt %q alg %v, want tpm and ES256 (the attestation key's)", stmt.Format, stmt.AttStmt[stmtAlg])
			}
			if gotType, err := verifyWebAuthn(t, stmt, authData, cdh[:]); err != nil || gotType != "attca" {
				t.Fatalf("go-webauthn: %q, %v; want attca", gotType, err)
			}
			// python-fido2 0.9.1 has no COSE key classes for ES384 and
			// ES512 (testdata/python/tpm_attestation.py).
			if alg != keystore.ES384 && alg != keystore.ES512 {
				verifyPythonTPM(t, attestationObject(t, stmt, authData), cdh[:], ca)
			}
		})
	}
}
