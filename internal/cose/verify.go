package cose

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"errors"
	"fmt"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"
	secpecdsa "github.com/decred/dcrd/dcrec/secp256k1/v4/ecdsa"
)

// ErrSignature reports a signature that does not verify.
var ErrSignature = errors.New("cose: signature does not verify")

// Hash returns the hash a signature algorithm applies to the message, or
// 0 for EdDSA, which signs the message itself (RFC 9053 §2.1 and §2.2,
// RFC 8812 §2 and §3.2).
func Hash(alg int) (crypto.Hash, error) {
	switch alg {
	case AlgES256, AlgES256K, AlgRS256, AlgPS256:
		return crypto.SHA256, nil
	case AlgES384:
		return crypto.SHA384, nil
	case AlgES512:
		return crypto.SHA512, nil
	case AlgEdDSA:
		return 0, nil
	}
	return 0, fmt.Errorf("cose: no signature algorithm %d", alg)
}

// Digest hashes msg with the hash of alg; EdDSA gets msg back.
func Digest(alg int, msg []byte) ([]byte, error) {
	h, err := Hash(alg)
	switch {
	case err != nil:
		return nil, err
	case h == crypto.SHA256:
		d := sha256.Sum256(msg)
		return d[:], nil
	case h == crypto.SHA384:
		d := sha512.Sum384(msg)
		return d[:], nil
	case h == crypto.SHA512:
		d := sha512.Sum512(msg)
		return d[:], nil
	}
	return msg, nil
}

// Verify checks a WebAuthn signature by algorithm alg over msg: ASN.1 DER
// for ECDSA (WebAuthn §6.5.5), RSASSA-PKCS1-v1_5 for RS256, RSASSA-PSS with
// a salt as long as the hash for PS256 (RFC 8230 §2), raw Ed25519.
func Verify(alg int, pub crypto.PublicKey, msg, sig []byte) error {
	k, err := FromPublicKey(pub, alg)
	if err != nil {
		return err
	}
	if k.Alg == 0 {
		return invalid("no algorithm")
	}
	digest, err := Digest(alg, msg)
	if err != nil {
		return err
	}
	ok := false
	switch p := pub.(type) {
	case *ecdsa.PublicKey:
		ok = ecdsa.VerifyASN1(p, digest, sig)
	case *secp256k1.PublicKey:
		s, err := secpecdsa.ParseDERSignature(sig)
		ok = err == nil && s.Verify(digest, p)
	case ed25519.PublicKey:
		ok = ed25519.Verify(p, msg, sig)
	case *rsa.PublicKey:
		if alg == AlgPS256 {
			ok = rsa.VerifyPSS(p, crypto.SHA256, digest, sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}) == nil
		} else {
			ok = rsa.VerifyPKCS1v15(p, crypto.SHA256, digest, sig) == nil
		}
	}
	if !ok {
		return ErrSignature
	}
	return nil
}

// Equal reports whether two public keys of the kinds PublicKey returns
// are the same key.
func Equal(a, b crypto.PublicKey) bool {
	if k, ok := a.(*secp256k1.PublicKey); ok {
		other, ok := b.(*secp256k1.PublicKey)
		return ok && k.IsEqual(other)
	}
	eq, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && eq.Equal(b)
}
