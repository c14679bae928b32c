package cose

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
)

// FuzzParse feeds Parse what a platform (keyAgreement of clientPIN) or an
// attestation object (a credential public key) might carry. The seeds in
// testdata/fuzz/FuzzParse are real keys of every kind CTAP uses (alg-* one per credential algorithm) and their
// near misses. A key Parse accepts is a valid public key that survives a
// round trip unchanged; anything else is ErrInvalidKey, never a panic.
func FuzzParse(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		k, err := Parse(data)
		if err != nil {
			if !errors.Is(err, ErrInvalidKey) {
				t.Fatalf("Parse error %v does not wrap ErrInvalidKey", err)
			}
			return
		}
		pub, err := k.PublicKey()
		if err != nil {
			t.Fatalf("Parse accepted a key whose PublicKey fails: %v", err)
		}
		enc, err := k.Marshal()
		if err != nil {
			t.Fatalf("Marshal of a parsed key: %v", err)
		}
		again, err := Parse(enc)
		if err != nil || !reflect.DeepEqual(again, k) {
			t.Fatalf("round trip changed the key: %+v, %v; was %+v", again, err, k)
		}
		// The key the public key describes is the one parsed.
		from, err := FromPublicKey(pub, k.Alg)
		if err != nil {
			t.Fatalf("FromPublicKey of a parsed key: %v", err)
		}
		if from.Kty != k.Kty || from.Crv != k.Crv || from.Alg != k.Alg || !bytes.Equal(from.X, k.X) ||
			!bytes.Equal(from.Y, k.Y) || !bytes.Equal(from.N, k.N) || !bytes.Equal(from.E, k.E) {
			t.Fatalf("FromPublicKey(PublicKey()) = %+v, parsed %+v", from, k)
		}
		back, err := from.PublicKey()
		if err != nil || !Equal(back, pub) {
			t.Fatalf("public key changed through FromPublicKey: %v", err)
		}
		if k.Kty == KtyEC2 && k.Crv == CrvP256 {
			if _, err := k.ECDH(); err != nil {
				t.Fatalf("ECDH of a valid P-256 key: %v", err)
			}
		}
	})
}
