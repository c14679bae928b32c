package attestation

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/vauth/vauth/keystore"
)

// Keys of a packed attStmt (WebAuthn §8.2).
const (
	stmtAlg = "alg"
	stmtSig = "sig"
	stmtX5C = "x5c"
)

// signedData is what every signing format signs: authenticatorData followed
// by the clientDataHash.
func signedData(authData, clientDataHash []byte) []byte {
	return slices.Concat(authData, clientDataHash)
}

// Self returns the attester of packed self attestation (WebAuthn §8.2, no
// x5c): the credential signs its own creation with its own key, so the RP
// learns nothing about the authenticator model but can check the key works.
func Self() Attester { return self{} }

type self struct{}

func (self) Attest(ks keystore.Keystore, cred *keystore.Credential, authData, clientDataHash []byte) (Statement, error) {
	if ks == nil || cred == nil {
		return Statement{}, errors.New("attestation: self attestation needs a keystore and a credential")
	}
	sig, err := ks.Sign(cred, signedData(authData, clientDataHash))
	if err != nil {
		return Statement{}, fmt.Errorf("attestation: self attestation signature: %w", err)
	}
	return Statement{Format: FormatPacked, AttStmt: map[string]any{
		stmtAlg: cred.Algorithm,
		stmtSig: sig,
	}}, nil
}

// Basic returns the attester of packed basic attestation (WebAuthn §8.2 with
// x5c): an ES256 attestation key, certified by ca for this AAGUID, signs the
// new credential. The attestation key and certificate are made on first use
// and kept in store, so they stay the same across restarts; they are made
// again when the AAGUID or the CA changes.
func Basic(ca *CA, aaguid [16]byte, store BlobStore) Attester { return newBasic(ca, aaguid, store) }

func newBasic(ca *CA, aaguid [16]byte, store BlobStore) *basic {
	return &basic{ca: ca, aaguid: aaguid, store: store}
}

// Enterprise returns the attester of enterprise attestation (CTAP 2.1
// §7.1): packed basic attestation like Basic's, but with a certificate that
// identifies this very authenticator (its subject carries a serial number
// made for the device, CN "vauth Enterprise Attestation"), so that an
// enterprise's relying party can tell its devices apart. The authenticator
// uses it only for the enterpriseAttestation requests it honours, and
// marks those responses with epAtt (ctap2.Config.EnterpriseAttester).
func Enterprise(ca *CA, aaguid [16]byte, store BlobStore) Attester {
	return &basic{ca: ca, aaguid: aaguid, store: store, kind: enterpriseLeaf}
}

type basic struct {
	ca     *CA
	aaguid [16]byte
	store  BlobStore
	kind   leafKind

	mu   sync.Mutex
	cert *leaf // nil until loaded
}

// attestationKey returns the leaf, loading or making it on first use; a
// failure is not cached, so a later call tries again.
func (b *basic) attestationKey() (*leaf, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cert != nil {
		return b.cert, nil
	}
	if b.ca == nil || b.store == nil {
		return nil, errors.New("attestation: basic attestation needs a CA and a store")
	}
	l, err := loadOrCreateLeafOf(b.kind, b.store, b.ca, b.aaguid)
	if err != nil {
		return nil, err
	}
	b.cert = l
	return l, nil
}

func (b *basic) Attest(_ keystore.Keystore, _ *keystore.Credential, authData, clientDataHash []byte) (Statement, error) {
	if got, ok := authDataAAGUID(authData); ok && got != b.aaguid {
		return Statement{}, fmt.Errorf("attestation: authenticator data carries AAGUID %s but the attestation certificate is for %s",
			FormatAAGUID(got), FormatAAGUID(b.aaguid))
	}
	l, err := b.attestationKey()
	if err != nil {
		return Statement{}, err
	}
	digest := sha256.Sum256(signedData(authData, clientDataHash))
	sig, err := ecdsa.SignASN1(rand.Reader, l.key, digest[:])
	if err != nil {
		return Statement{}, fmt.Errorf("attestation: basic attestation signature: %w", err)
	}
	return Statement{Format: FormatPacked, AttStmt: map[string]any{
		stmtAlg: keystore.ES256,
		stmtSig: sig,
		stmtX5C: [][]byte{l.cert.Raw},
	}}, nil
}

// Layout of authenticatorData (WebAuthn §6.1) up to the AAGUID.
const (
	authDataFlagsOffset  = 32 // after rpIdHash
	authDataAAGUIDOffset = 37 // after rpIdHash, flags and signCount
	authDataFlagAT       = 0x40
)

// authDataAAGUID returns the AAGUID of the attested credential data, if
// authData has any.
func authDataAAGUID(authData []byte) ([16]byte, bool) {
	var aaguid [16]byte
	if len(authData) < authDataAAGUIDOffset+len(aaguid) || authData[authDataFlagsOffset]&authDataFlagAT == 0 {
		return aaguid, false
	}
	copy(aaguid[:], authData[authDataAAGUIDOffset:])
	return aaguid, true
}
