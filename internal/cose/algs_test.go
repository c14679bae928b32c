package cose

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/hex"
	"errors"
	"math/big"
	"sync"
	"testing"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"
	secpecdsa "github.com/decred/dcrd/dcrec/secp256k1/v4/ecdsa"
)

// testKey is a private key of one algorithm and a signer that makes the
// signatures WebAuthn expects of it.
type testKey struct {
	name string
	alg  int
	pub  crypto.PublicKey
	sign func(msg []byte) []byte
}

func ecdsaKey(t *testing.T, name string, alg int, c elliptic.Curve) testKey {
	k, err := ecdsa.GenerateKey(c, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return testKey{name, alg, &k.PublicKey, func(msg []byte) []byte {
		d, _ := Digest(alg, msg)
		sig, err := ecdsa.SignASN1(rand.Reader, k, d)
		if err != nil {
			t.Fatal(err)
		}
		return sig
	}}
}

var rsaTestKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

// testKeys makes one key of every credential algorithm.
func testKeys(t *testing.T) []testKey {
	t.Helper()
	edPub, edPriv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k1, err := secp256k1.GeneratePrivateKey()
	if err != nil {
		t.Fatal(err)
	}
	r := rsaTestKey()
	return []testKey{
		ecdsaKey(t, "ES256", AlgES256, elliptic.P256()),
		ecdsaKey(t, "ES384", AlgES384, elliptic.P384()),
		ecdsaKey(t, "ES512", AlgES512, elliptic.P521()),
		{"ES256K", AlgES256K, k1.PubKey(), func(msg []byte) []byte {
			d, _ := Digest(AlgES256K, msg)
			return secpecdsa.Sign(k1, d).Serialize()
		}},
		{"EdDSA", AlgEdDSA, edPub, func(msg []byte) []byte { return ed25519.Sign(edPriv, msg) }},
		{"RS256", AlgRS256, &r.PublicKey, func(msg []byte) []byte {
			d, _ := Digest(AlgRS256, msg)
			sig, err := rsa.SignPKCS1v15(rand.Reader, r, crypto.SHA256, d)
			if err != nil {
				t.Fatal(err)
			}
			return sig
		}},
		{"PS256", AlgPS256, &r.PublicKey, func(msg []byte) []byte {
			d, _ := Digest(AlgPS256, msg)
			sig, err := rsa.SignPSS(rand.Reader, r, crypto.SHA256, d, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
			if err != nil {
				t.Fatal(err)
			}
			return sig
		}},
	}
}

func TestRoundTripEveryAlgorithm(t *testing.T) {
	for _, tc := range testKeys(t) {
		t.Run(tc.name, func(t *testing.T) {
			b, err := Marshal(tc.pub, tc.alg)
			if err != nil {
				t.Fatal(err)
			}
			k, err := Parse(b)
			if err != nil {
				t.Fatal(err)
			}
			if k.Alg != tc.alg {
				t.Errorf("alg = %d, want %d", k.Alg, tc.alg)
			}
			got, err := k.PublicKey()
			if err != nil {
				t.Fatal(err)
			}
			if !Equal(got, tc.pub) {
				t.Error("public key changed in the round trip")
			}
			again, err := k.Marshal()
			if err != nil || !bytes.Equal(again, b) {
				t.Errorf("re-encoding differs: %x, %v; was %x", again, err, b)
			}
			der, err := MarshalPKIX(tc.pub)
			if err != nil {
				t.Fatal(err)
			}
			fromDER, err := ParsePKIX(der)
			if err != nil || !Equal(fromDER, tc.pub) {
				t.Errorf("PKIX round trip: %v", err)
			}
		})
	}
}

func TestVerifyEveryAlgorithm(t *testing.T) {
	keys := testKeys(t)
	msg := []byte("authenticatorData || clientDataHash")
	for _, tc := range keys {
		t.Run(tc.name, func(t *testing.T) {
			sig := tc.sign(msg)
			if err := Verify(tc.alg, tc.pub, msg, sig); err != nil {
				t.Errorf("Verify = %v", err)
			}
			if err := Verify(tc.alg, tc.pub, []byte("other"), sig); !errors.Is(err, ErrSignature) {
				t.Errorf("Verify of another message = %v, want ErrSignature", err)
			}
			bad := bytes.Clone(sig)
			bad[len(bad)-1] ^= 1
			if err := Verify(tc.alg, tc.pub, msg, bad); !errors.Is(err, ErrSignature) {
				t.Errorf("Verify of a changed signature = %v, want ErrSignature", err)
			}
		})
	}
	// The padding is part of the algorithm: a PKCS#1 v1.5 signature is no
	// PSS signature.
	rs, ps := keys[5], keys[6]
	if err := Verify(AlgPS256, ps.pub, msg, rs.sign(msg)); !errors.Is(err, ErrSignature) {
		t.Errorf("RS256 signature verified as PS256: %v", err)
	}
	if err := Verify(AlgES384, keys[0].pub, msg, keys[0].sign(msg)); !errors.Is(err, ErrInvalidKey) {
		t.Errorf("P-256 key verified as ES384: %v", err)
	}
}

// RSA keys encode as {1: 3, 3: alg, -1: n, -2: e} (RFC 8230 §4), in the
// CTAP2 canonical order 1, 3, -1, -2.
func TestCanonicalEncodingRSA(t *testing.T) {
	n := append([]byte{0xc1}, bytes.Repeat([]byte{0x33}, 255)...)
	b, err := (&Key{Kty: KtyRSA, Alg: AlgRS256, N: n, E: []byte{1, 0, 1}}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	want := "a4" + "0103" + "03390100" + "20590100" + hex.EncodeToString(n) + "2143010001"
	if got := hex.EncodeToString(b); got != want {
		t.Errorf("encoding\n got %s\nwant %s", got, want)
	}
}

func TestParseRejectsMismatches(t *testing.T) {
	keys := testKeys(t)
	coseKey := func(i int) Key {
		k, err := FromPublicKey(keys[i].pub, keys[i].alg)
		if err != nil {
			t.Fatal(err)
		}
		return *k
	}
	p256, p384, p521, k1, ed, rs := coseKey(0), coseKey(1), coseKey(2), coseKey(3), coseKey(4), coseKey(5)
	with := func(k Key, f func(*Key)) *Key { f(&k); return &k }
	r := rsaTestKey()
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	huge := new(big.Int).Lsh(big.NewInt(1), maxRSABits) // 4097 bits
	huge.Add(huge, big.NewInt(1))
	k1Off := with(k1, func(k *Key) { k.Y = bytes.Clone(k.Y); k.Y[31] ^= 1 })
	for _, tc := range []struct {
		name string
		key  *Key
	}{
		{"ES256 on P-384", with(p384, func(k *Key) { k.Alg = AlgES256 })},
		{"ES384 on P-256", with(p256, func(k *Key) { k.Alg = AlgES384 })},
		{"ES512 on P-384", with(p384, func(k *Key) { k.Alg = AlgES512 })},
		{"ES256K on P-256", with(p256, func(k *Key) { k.Alg = AlgES256K })},
		{"ES256 on secp256k1", with(k1, func(k *Key) { k.Alg = AlgES256 })},
		{"EdDSA on P-256", with(p256, func(k *Key) { k.Alg = AlgEdDSA })},
		{"ES256 on Ed25519", with(ed, func(k *Key) { k.Alg = AlgES256 })},
		{"RS256 on P-256", with(p256, func(k *Key) { k.Alg = AlgRS256 })},
		{"ES256 on RSA", with(rs, func(k *Key) { k.Alg = AlgES256 })},
		{"ECDH-ES on P-384", with(p384, func(k *Key) { k.Alg = AlgECDHESHKDF256 })},
		{"unknown algorithm", with(p256, func(k *Key) { k.Alg = -9 })},
		{"P-384 short X", with(p384, func(k *Key) { k.X = k.X[1:] })},
		{"P-521 X of P-384 size", with(p521, func(k *Key) { k.X = k.X[:48] })},
		{"secp256k1 off the curve", k1Off},
		{"secp256k1 on curve 9", with(k1, func(k *Key) { k.Crv = 9 })},
		{"Ed25519 with Y", with(ed, func(k *Key) { k.Y = k.X })},
		{"RSA 1024", &Key{Kty: KtyRSA, Alg: AlgRS256, N: small.N.Bytes(), E: []byte{1, 0, 1}}},
		{"RSA 4097", &Key{Kty: KtyRSA, Alg: AlgRS256, N: huge.Bytes(), E: []byte{1, 0, 1}}},
		{"RSA even modulus", &Key{Kty: KtyRSA, Alg: AlgRS256, N: new(big.Int).Lsh(r.N, 1).Bytes()[:256], E: []byte{1, 0, 1}}},
		{"RSA modulus with a leading zero", &Key{Kty: KtyRSA, Alg: AlgRS256, N: append([]byte{0}, r.N.Bytes()...), E: []byte{1, 0, 1}}},
		{"RSA no exponent", &Key{Kty: KtyRSA, Alg: AlgRS256, N: r.N.Bytes()}},
		{"RSA exponent 1", &Key{Kty: KtyRSA, Alg: AlgRS256, N: r.N.Bytes(), E: []byte{1}}},
		{"RSA even exponent", &Key{Kty: KtyRSA, Alg: AlgRS256, N: r.N.Bytes(), E: []byte{1, 0, 0}}},
		{"RSA exponent 2^31+1", &Key{Kty: KtyRSA, Alg: AlgRS256, N: r.N.Bytes(), E: []byte{0x80, 0, 0, 1}}},
		{"RSA exponent with a leading zero", &Key{Kty: KtyRSA, Alg: AlgRS256, N: r.N.Bytes(), E: []byte{0, 1, 0, 1}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw, err := tc.key.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := Parse(raw); !errors.Is(err, ErrInvalidKey) {
				t.Errorf("Parse = %v, want ErrInvalidKey", err)
			}
		})
	}
	// Wrong CBOR types under a label are rejected too: an RSA key with an
	// integer n, an EC2 key with a byte-string curve.
	for name, raw := range map[string]string{
		"RSA n as integer":   "a3010320012143010001",
		"EC2 crv as bstr":    "a3010220410121412a",
		"duplicate kty":      "a301020103200121412a",
		"text label":         "a20102616101",
		"RSA n as text":      "a3010320616e2143010001",
		"alg as byte string": "a301020341072001",
	} {
		b, _ := hex.DecodeString(raw)
		if _, err := Parse(b); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("%s: Parse = %v, want ErrInvalidKey", name, err)
		}
	}
}

// TestPKIXRejects checks that ParsePKIX's secp256k1 path takes only an
// uncompressed point on the curve.
func TestPKIXRejects(t *testing.T) {
	k, err := secp256k1.GeneratePrivateKey()
	if err != nil {
		t.Fatal(err)
	}
	der, err := MarshalPKIX(k.PubKey())
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{
		"truncated":        der[:len(der)-1],
		"off the curve":    append(bytes.Clone(der[:len(der)-1]), der[len(der)-1]^1),
		"trailing data":    append(bytes.Clone(der), 0),
		"not DER":          {0x30, 0x03, 0x01},
		"compressed point": compressedSPKI(t, der, k.PubKey().SerializeCompressed()),
	} {
		if _, err := ParsePKIX(b); err == nil {
			t.Errorf("%s: ParsePKIX accepted it", name)
		}
	}
}

func compressedSPKI(t *testing.T, der, point []byte) []byte {
	uncompressed := len(der) - 65
	b := append(bytes.Clone(der[:uncompressed]), point...)
	// Fix the lengths of the outer SEQUENCE and of the BIT STRING.
	b[1] -= 32
	b[uncompressed-2] -= 32
	return b
}
