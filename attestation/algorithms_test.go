package attestation

import (
	"crypto/sha256"
	"testing"

	"github.com/vauth/vauth/keystore"
)

// TestAttestEveryAlgorithm has go-webauthn verify packed self attestation
// (alg is the credential's own: WebAuthn §8.2) and packed basic
// attestation (alg ES256, vauth's attestation key) of a credential of every
// algorithm the soft keystore makes.
func TestAttestEveryAlgorithm(t *testing.T) {
	ks := newStore(t)
	ca, err := LoadOrCreateCA(ks)
	if err != nil {
		t.Fatal(err)
	}
	clientDataHash := sha256.Sum256([]byte("every algorithm"))
	for _, alg := range ks.Algorithms() {
		cred := newCredential(t, ks, alg)
		authData := makeAuthData(t, cred, DefaultAAGUID, 0)
		for _, tc := range []struct {
			name     string
			attester Attester
			wantAlg  int
			wantType string
		}{
			{"self", Self(), alg, "basic_surrogate"},
			{"basic", Basic(ca, DefaultAAGUID, ks), keystore.ES256, "basic_full"},
		} {
			t.Run(keystore.AlgorithmName(alg)+"/"+tc.name, func(t *testing.T) {
				stmt, err := tc.attester.Attest(ks, cred, authData, clientDataHash[:])
				if err != nil {
					t.Fatal(err)
				}
				checkStatementShape(t, stmt, tc.wantAlg, tc.name == "basic")
				gotType, err := verifyWebAuthn(t, stmt, authData, clientDataHash[:])
				if err != nil || gotType != tc.wantType {
					t.Errorf("go-webauthn: %q, %v; want %q", gotType, err, tc.wantType)
				}
			})
		}
	}
}

// TestU2FAttestRefusesOtherAlgorithms: fido-u2f conveys only P-256 keys
// (WebAuthn §8.6 verification step 2), so every other algorithm is refused
// rather than attested in a form no relying party can check.
func TestU2FAttestRefusesOtherAlgorithms(t *testing.T) {
	ks := newStore(t)
	_, u := newU2F(t, ks)
	for _, alg := range ks.Algorithms() {
		cred := newCredential(t, ks, alg)
		_, err := u.Attest(ks, cred, makeAuthData(t, cred, [16]byte{}, 0), make([]byte, 32))
		if (err == nil) != (alg == keystore.ES256) {
			t.Errorf("%s: Attest = %v", keystore.AlgorithmName(alg), err)
		}
	}
}
