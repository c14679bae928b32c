package attestation

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"testing"

	"github.com/fxamacker/cbor/v2"
	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/protocol/webauthncbor"
	"github.com/go-webauthn/webauthn/protocol/webauthncose"

	"github.com/vauth/vauth/internal/cose"
	"github.com/vauth/vauth/keystore"
)

const testRPID = "example.com"

// COSE_Key labels and values (RFC 9052, RFC 9053) for the test's own
// encoding of credential public keys.
const (
	coseKty = 1
	coseAlg = 3
	coseCrv = -1
	coseX   = -2
	coseY   = -3

	coseKtyOKP     = 1
	coseKtyEC2     = 2
	coseCrvP256    = 1
	coseCrvEd25519 = 6
)

// Authenticator data flags (WebAuthn §6.1).
const (
	flagUP = 0x01
	flagAT = 0x40
)

func ctap2EncMode(t *testing.T) cbor.EncMode {
	t.Helper()
	em, err := cbor.CTAP2EncOptions().EncMode()
	if err != nil {
		t.Fatal(err)
	}
	return em
}

// coseKey encodes a credential public key as a COSE_Key.
func coseKey(t *testing.T, cred *keystore.Credential) []byte {
	t.Helper()
	var key map[int]any
	switch pub := cred.PublicKey.(type) {
	case *ecdsa.PublicKey:
		if cred.Algorithm != keystore.ES256 {
			return coseMarshal(t, cred)
		}
		point, err := pub.Bytes() // 0x04 || x || y
		if err != nil || len(point) != 65 {
			t.Fatalf("P-256 public key: %v", err)
		}
		key = map[int]any{coseKty: coseKtyEC2, coseAlg: cred.Algorithm, coseCrv: coseCrvP256, coseX: point[1:33], coseY: point[33:]}
	case ed25519.PublicKey:
		key = map[int]any{coseKty: coseKtyOKP, coseAlg: cred.Algorithm, coseCrv: coseCrvEd25519, coseX: []byte(pub)}
	default:
		return coseMarshal(t, cred)
	}
	b, err := ctap2EncMode(t).Marshal(key)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// coseMarshal encodes the keys of the algorithms besides ES256 and EdDSA
// as internal/cose does.
func coseMarshal(t *testing.T, cred *keystore.Credential) []byte {
	t.Helper()
	b, err := cose.Marshal(cred.PublicKey, cred.Algorithm)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// makeAuthData builds the authenticator data of a makeCredential response:
// rpIdHash, flags UP|AT, signCount and the attested credential data.
func makeAuthData(t *testing.T, cred *keystore.Credential, aaguid [16]byte, counter uint32) []byte {
	t.Helper()
	out := append([]byte(nil), cred.RPIDHash[:]...)
	out = append(out, flagUP|flagAT)
	out = binary.BigEndian.AppendUint32(out, counter)
	out = append(out, aaguid[:]...)
	out = binary.BigEndian.AppendUint16(out, uint16(len(cred.ID)))
	out = append(out, cred.ID...)
	return append(out, coseKey(t, cred)...)
}

// newCredential makes a credential for testRPID in ks.
func newCredential(t *testing.T, ks keystore.Keystore, alg int) *keystore.Credential {
	t.Helper()
	cred, err := ks.Create(keystore.CreateRequest{
		RPID:      testRPID,
		RPIDHash:  sha256.Sum256([]byte(testRPID)),
		User:      keystore.User{ID: []byte{1, 2, 3}, Name: "alice"},
		Algorithm: alg,
	})
	if err != nil {
		t.Fatalf("Create(alg %d): %v", alg, err)
	}
	return cred
}

// attestationObject encodes the WebAuthn attestation object (§6.5.4) that
// a client would pass to the relying party.
func attestationObject(t *testing.T, stmt Statement, authData []byte) []byte {
	t.Helper()
	b, err := ctap2EncMode(t).Marshal(map[string]any{
		"fmt":      stmt.Format,
		"attStmt":  stmt.AttStmt,
		"authData": authData,
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// verifyWebAuthn has go-webauthn, an independent relying-party
// implementation, decode and verify the attestation object (registration
// steps 13 to 19) and returns the attestation type it found.
func verifyWebAuthn(t *testing.T, stmt Statement, authData, clientDataHash []byte) (string, error) {
	t.Helper()
	var obj protocol.AttestationObject
	if err := webauthncbor.Unmarshal(attestationObject(t, stmt, authData), &obj); err != nil {
		return "", fmt.Errorf("decoding attestation object: %w", err)
	}
	if err := obj.AuthData.Unmarshal(obj.RawAuthData); err != nil {
		return "", fmt.Errorf("decoding authData: %w", err)
	}
	var params []protocol.CredentialParameter
	for _, alg := range keystore.Preferred() {
		params = append(params, protocol.CredentialParameter{Type: protocol.PublicKeyCredentialType, Algorithm: webauthncose.COSEAlgorithmIdentifier(alg)})
	}
	if err := obj.Verify(testRPID, clientDataHash, false, true, nil, params, protocol.AttestationPolicy{}, protocol.SignaturePolicy{}); err != nil {
		return "", describe(err)
	}
	return obj.Type, nil
}

// describe adds go-webauthn's details to its error, which its Error method
// leaves out.
func describe(err error) error {
	if e, ok := err.(*protocol.Error); ok {
		return fmt.Errorf("%w: %s (%s)", err, e.Details, e.DevInfo)
	}
	return err
}

// newU2F returns ks's CA and the U2F attester under it.
func newU2F(t *testing.T, ks BlobStore) (*CA, *U2FAttester) {
	t.Helper()
	ca, err := LoadOrCreateCA(ks)
	if err != nil {
		t.Fatal(err)
	}
	u, err := U2F(ca, ks)
	if err != nil {
		t.Fatal(err)
	}
	return ca, u
}
