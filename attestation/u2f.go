package attestation

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"

	"github.com/vauth/vauth/keystore"
)

// FormatFIDOU2F is the attestation statement format of U2F authenticators
// (WebAuthn §8.6).
const FormatFIDOU2F = "fido-u2f"

// u2fRegistrationReserved is the byte that starts the data a U2F
// registration signature covers (FIDO U2F Raw Message Formats §4.3).
const u2fRegistrationReserved = 0x00

// U2FAttester is the attestation of U2F registrations: an ES256 attestation
// key whose certificate, issued by a CA, names no authenticator model (U2F
// has no AAGUID). It signs U2F REGISTER responses and is also the Attester
// of the WebAuthn fido-u2f format, which carries the same signature.
type U2FAttester struct {
	leaf *leaf
}

var _ Attester = (*U2FAttester)(nil)

// U2F returns the U2F attester certified by ca. Its key and certificate are
// made on first use and kept in store, so they stay the same across
// restarts; they are made again when the CA changes or the certificate
// expires.
func U2F(ca *CA, store BlobStore) (*U2FAttester, error) {
	if ca == nil || store == nil {
		return nil, errors.New("attestation: U2F attestation needs a CA and a store")
	}
	l, err := loadOrCreateLeaf(store, ca, noAAGUID)
	if err != nil {
		return nil, err
	}
	return &U2FAttester{leaf: l}, nil
}

// Certificate returns the attestation certificate; a U2F REGISTER response
// carries its DER encoding.
func (u *U2FAttester) Certificate() *x509.Certificate { return u.leaf.cert }

// SignRegistration makes the signature of a U2F registration: ECDSA P-256
// with SHA-256 over 0x00 || application || challenge || keyHandle ||
// publicKey, ASN.1 DER. In WebAuthn terms the application is the rpIdHash,
// the challenge the clientDataHash, the key handle the credential ID and the
// public key publicKeyU2F.
func (u *U2FAttester) SignRegistration(application, challenge, keyHandle, publicKey []byte) ([]byte, error) {
	digest := sha256.Sum256(slices.Concat([]byte{u2fRegistrationReserved}, application, challenge, keyHandle, publicKey))
	sig, err := ecdsa.SignASN1(rand.Reader, u.leaf.key, digest[:])
	if err != nil {
		return nil, fmt.Errorf("attestation: U2F registration signature: %w", err)
	}
	return sig, nil
}

// Attest implements Attester for the fido-u2f format (WebAuthn §8.6): sig is
// the U2F registration signature of the credential and x5c the attestation
// certificate. Only ES256 credentials can be attested this way.
func (u *U2FAttester) Attest(_ keystore.Keystore, cred *keystore.Credential, authData, clientDataHash []byte) (Statement, error) {
	if cred == nil {
		return Statement{}, errors.New("attestation: fido-u2f attestation needs the credential")
	}
	if len(authData) < sha256.Size {
		return Statement{}, fmt.Errorf("attestation: authenticator data of %d bytes", len(authData))
	}
	pub, err := PublicKeyU2F(cred.PublicKey)
	if err != nil {
		return Statement{}, fmt.Errorf("attestation: fido-u2f attestation: %w", err)
	}
	sig, err := u.SignRegistration(authData[:sha256.Size], clientDataHash, cred.ID, pub)
	if err != nil {
		return Statement{}, err
	}
	return Statement{Format: FormatFIDOU2F, AttStmt: map[string]any{
		stmtSig: sig,
		stmtX5C: [][]byte{u.leaf.cert.Raw},
	}}, nil
}

// PublicKeyU2F encodes a P-256 public key as U2F does: the uncompressed
// point 0x04 || x || y, 65 bytes. Other keys have no U2F encoding.
func PublicKeyU2F(pub crypto.PublicKey) ([]byte, error) {
	k, ok := pub.(*ecdsa.PublicKey)
	if !ok || k.Curve != elliptic.P256() {
		return nil, fmt.Errorf("a %T is not a P-256 public key, the only kind U2F has", pub)
	}
	return k.Bytes()
}
