package soft

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/sha256"
	"errors"
	"testing"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"

	"github.com/vauth/vauth/internal/cose"
	"github.com/vauth/vauth/keystore"
)

func TestEngineSignVerify(t *testing.T) {
	e := NewEngine()
	msg := []byte("message")
	for _, alg := range e.Algorithms() {
		pub, blob, err := e.Generate(alg)
		if err != nil {
			t.Fatalf("Generate(%d): %v", alg, err)
		}
		if len(blob) > e.MaxBlobLen() {
			t.Errorf("alg %d: blob of %d bytes, MaxBlobLen %d", alg, len(blob), e.MaxBlobLen())
		}
		sig, err := e.Sign(alg, blob, msg)
		if err != nil {
			t.Fatalf("Sign(%d): %v", alg, err)
		}
		if err := cose.Verify(alg, pub, msg, sig); err != nil {
			t.Errorf("alg %d: signature does not verify with the %T public key: %v", alg, pub, err)
		}
	}
}

// TestEngineKeyCache checks that the P-256 key cache is bounded, and that a
// key parsed again after eviction signs as the cached one did.
func TestEngineKeyCache(t *testing.T) {
	e := NewEngine()
	e.keys.size = 3
	type key struct {
		pub  *ecdsa.PublicKey
		blob []byte
	}
	var keys []key
	for range 5 {
		pub, blob, err := e.Generate(keystore.ES256)
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, key{pub.(*ecdsa.PublicKey), blob})
		if e.keys.len() > e.keys.size || len(e.keys.index) != e.keys.len() {
			t.Fatalf("cache holds %d keys (%d indexed), bound %d", e.keys.len(), len(e.keys.index), e.keys.size)
		}
	}
	msg := []byte("m")
	digest := sha256.Sum256(msg)
	for round := range 2 { // the first two keys were evicted: parsed, then cached
		for i, k := range keys {
			sig, err := e.Sign(keystore.ES256, k.blob, msg)
			if err != nil || !ecdsa.VerifyASN1(k.pub, digest[:], sig) {
				t.Errorf("round %d, key %d: %v, or the signature does not verify", round, i, err)
			}
		}
	}
	if e.keys.len() != e.keys.size {
		t.Errorf("cache holds %d keys, want %d", e.keys.len(), e.keys.size)
	}
}

// TestEngineKeyCacheByAlgorithm checks that the cache tells keys apart by
// algorithm too: a P-256 and a secp256k1 blob can be the same 33 bytes.
func TestEngineKeyCacheByAlgorithm(t *testing.T) {
	e := NewEngine()
	msg := []byte("m")
	pub256, blob, err := e.Generate(keystore.ES256)
	if err != nil {
		t.Fatal(err)
	}
	other := NewEngine() // the same scalar, read as a secp256k1 key
	for _, alg := range []int{keystore.ES256, keystore.ES256K, keystore.ES256} {
		sig, err := e.Sign(alg, blob, msg)
		if err != nil {
			t.Fatalf("Sign(%d): %v", alg, err)
		}
		pub := crypto.PublicKey(pub256)
		if alg == keystore.ES256K {
			k, err := other.key(alg, blob)
			if err != nil {
				t.Fatal(err)
			}
			pub = k.(*secp256k1.PrivateKey).PubKey()
		}
		if err := cose.Verify(alg, pub, msg, sig); err != nil {
			t.Errorf("alg %d: signed with the other algorithm's key: %v", alg, err)
		}
	}
	if e.keys.len() != 2 {
		t.Errorf("cache holds %d keys, want one per algorithm", e.keys.len())
	}
}

func TestEngineBadInput(t *testing.T) {
	e := NewEngine()
	_, es, _ := e.Generate(keystore.ES256)
	_, ed, _ := e.Generate(keystore.EdDSA)
	badVersion := append([]byte{softBlobVersion + 1}, es[1:]...)
	zeroScalar := make([]byte, blobLen(keystore.ES256, 0))
	zeroScalar[0] = softBlobVersion
	tests := []struct {
		name string
		alg  int
		blob []byte
		want error
	}{
		{"ES256 empty", keystore.ES256, nil, errBadBlob},
		{"ES256 short", keystore.ES256, es[:10], errBadBlob},
		{"ES256 long", keystore.ES256, append(es, 0), errBadBlob},
		{"ES256 bad version", keystore.ES256, badVersion, errBadBlob},
		{"ES256 zero scalar", keystore.ES256, zeroScalar, errBadBlob},
		{"ES256 given an EdDSA blob", keystore.ES256, ed, errBadBlob},
		{"EdDSA given an ES256 blob", keystore.EdDSA, es, errBadBlob},
		{"EdDSA short", keystore.EdDSA, ed[:33], errBadBlob},
		{"unknown algorithm", -260, es, keystore.ErrUnsupportedAlgorithm},
	}
	for _, tc := range tests {
		if _, err := e.Sign(tc.alg, tc.blob, []byte("m")); !errors.Is(err, tc.want) {
			t.Errorf("%s: Sign = %v, want %v", tc.name, err, tc.want)
		}
	}
	if _, _, err := e.Generate(-260); !errors.Is(err, keystore.ErrUnsupportedAlgorithm) {
		t.Errorf("Generate(-260) = %v, want ErrUnsupportedAlgorithm", err)
	}
}
