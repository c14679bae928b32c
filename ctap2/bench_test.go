package ctap2

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"testing"

	"github.com/vauth/vauth/keystore"
)

// BenchmarkGetAssertion is one ES256 assertion with an allowList through
// HandleCBOR on the soft keystore: decoding, lookup, counter, signature,
// encoding. Compare with BenchmarkECDSASignASN1, the signature alone.
func BenchmarkGetAssertion(b *testing.B) { benchmarkGetAssertion(b, keystore.ES256) }

// BenchmarkGetAssertionEdDSA is the same with an Ed25519 credential: the
// CTAP work without CTAPHID, against BenchmarkEd25519Sign.
func BenchmarkGetAssertionEdDSA(b *testing.B) { benchmarkGetAssertion(b, keystore.EdDSA) }

func benchmarkGetAssertion(b *testing.B, alg int) {
	d := newTestDevice(b, func(c *Config) { c.Logger = nil })
	id := d.register(withAlgorithms(makeCredentialParams("example.com", []byte{1}, "alice", false), alg)).authData.credentialID
	req := append([]byte{CmdGetAssertion}, encode(b, getAssertionParams("example.com", id))...)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if resp := d.a.HandleCBOR(ctx, req, nil); resp[0] != byte(CTAP2OK) {
			b.Fatal(Status(resp[0]))
		}
	}
}

// BenchmarkECDSASignASN1 is the bare P-256 signature of an assertion.
func BenchmarkECDSASignASN1(b *testing.B) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	digest := sha256.Sum256(make([]byte, 69))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ecdsa.SignASN1(rand.Reader, key, digest[:]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEd25519Sign is the bare Ed25519 signature of an assertion.
func BenchmarkEd25519Sign(b *testing.B) {
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	msg := make([]byte, 69)
	for b.Loop() {
		ed25519.Sign(key, msg)
	}
}
