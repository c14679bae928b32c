package bench

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"testing"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"
	secpecdsa "github.com/decred/dcrd/dcrec/secp256k1/v4/ecdsa"

	"github.com/vauth/vauth/keystore"
)

// signedLen is about what an assertion signs: authenticatorData (37
// bytes) and the clientDataHash.
const signedLen = 37 + 32

// BareSign returns the floor of alg's assertion: one signature of the
// same kind with a key of the same type, made directly with the library
// vauth uses (crypto/ecdsa, crypto/ed25519, crypto/rsa, decred's
// secp256k1), over the hash of an assertion-sized message.
func BareSign(alg int) func(*testing.B) {
	msg := make([]byte, signedLen)
	return func(b *testing.B) {
		sign := bareSigner(b, alg)
		b.ReportAllocs()
		for b.Loop() {
			if err := sign(msg); err != nil {
				b.Fatal(err)
			}
		}
	}
}

func bareSigner(b *testing.B, alg int) func(msg []byte) error {
	ec := func(c elliptic.Curve, digest func([]byte) []byte) func([]byte) error {
		k, err := ecdsa.GenerateKey(c, rand.Reader)
		if err != nil {
			b.Fatal(err)
		}
		return func(msg []byte) error { _, err := ecdsa.SignASN1(rand.Reader, k, digest(msg)); return err }
	}
	s256 := func(m []byte) []byte { d := sha256.Sum256(m); return d[:] }
	switch alg {
	case keystore.ES256:
		return ec(elliptic.P256(), s256)
	case keystore.ES384:
		return ec(elliptic.P384(), func(m []byte) []byte { d := sha512.Sum384(m); return d[:] })
	case keystore.ES512:
		return ec(elliptic.P521(), func(m []byte) []byte { d := sha512.Sum512(m); return d[:] })
	case keystore.ES256K:
		k, err := secp256k1.GeneratePrivateKey()
		if err != nil {
			b.Fatal(err)
		}
		return func(msg []byte) error { _ = secpecdsa.Sign(k, s256(msg)).Serialize(); return nil }
	case keystore.EdDSA:
		_, k, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			b.Fatal(err)
		}
		return func(msg []byte) error { _ = ed25519.Sign(k, msg); return nil }
	case keystore.RS256, keystore.PS256:
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			b.Fatal(err)
		}
		if alg == keystore.PS256 {
			opts := &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}
			return func(msg []byte) error {
				_, err := rsa.SignPSS(rand.Reader, k, crypto.SHA256, s256(msg), opts)
				return err
			}
		}
		return func(msg []byte) error {
			_, err := rsa.SignPKCS1v15(rand.Reader, k, crypto.SHA256, s256(msg))
			return err
		}
	}
	b.Fatalf("no bare signature for algorithm %d", alg)
	return nil
}

// GetAssertionAlg is GetAssertion with a non-discoverable credential of
// alg (RSA keys of the default 2048 bits).
func GetAssertionAlg(alg int) func(*testing.B) {
	return func(b *testing.B) { getAssertion(b, pipe, alg) }
}
