package soft

import (
	"bytes"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/vauth/vauth/internal/cose"
	"github.com/vauth/vauth/keystore"
)

func TestEngineOffersEveryAlgorithm(t *testing.T) {
	if got, want := NewEngine().Algorithms(), keystore.Preferred(); !slices.Equal(got, want) {
		t.Errorf("Algorithms() = %v, want %v", got, want)
	}
}

// TestEngineReload signs with blobs that a fresh engine has never seen, so
// that every key is parsed from its blob (for RSA: rebuilt from its primes)
// rather than taken from the cache, with both RSA sizes.
func TestEngineReload(t *testing.T) {
	for _, bits := range []int{DefaultRSABits, RSABits3072} {
		maker, err := NewEngineRSA(bits)
		if err != nil {
			t.Fatal(err)
		}
		for _, alg := range maker.Algorithms() {
			if bits != DefaultRSABits && alg != keystore.RS256 {
				continue // the other algorithms do not depend on the RSA size
			}
			t.Run(keystore.AlgorithmName(alg), func(t *testing.T) {
				pub, blob, err := maker.Generate(alg)
				if err != nil {
					t.Fatal(err)
				}
				if want := blobLen(alg, bits); len(blob) != want || blob[0] != softBlobVersion {
					t.Errorf("blob of %d bytes, version %d; want %d, %d", len(blob), blob[0], want, softBlobVersion)
				}
				if k, ok := pub.(*rsa.PublicKey); ok && (k.N.BitLen() != bits || k.E != rsaExponent) {
					t.Errorf("RSA key of %d bits, e = %d; want %d, %d", k.N.BitLen(), k.E, bits, rsaExponent)
				}
				fresh := NewEngine()
				msg := []byte("authenticatorData || clientDataHash")
				for range 2 { // parsed, then cached
					sig, err := fresh.Sign(alg, bytes.Clone(blob), msg)
					if err != nil {
						t.Fatal(err)
					}
					if err := cose.Verify(alg, pub, msg, sig); err != nil {
						t.Errorf("signature of the reloaded key: %v", err)
					}
				}
			})
		}
	}
}

func TestEngineBadBlobs(t *testing.T) {
	e := NewEngine()
	blobs := map[int][]byte{}
	for _, alg := range e.Algorithms() {
		_, blob, err := e.Generate(alg)
		if err != nil {
			t.Fatal(err)
		}
		blobs[alg] = blob
	}
	withByte := func(b []byte, i int, v byte) []byte { b = bytes.Clone(b); b[i] = v; return b }
	zero := func(n int) []byte { b := make([]byte, n); b[0] = softBlobVersion; return b }
	rsaBlob := blobs[keystore.RS256]
	for _, tc := range []struct {
		name string
		alg  int
		blob []byte
	}{
		{"ES384 short", keystore.ES384, blobs[keystore.ES384][:48]},
		{"ES384 given an ES256 blob", keystore.ES384, blobs[keystore.ES256]},
		{"ES512 given an ES384 blob", keystore.ES512, blobs[keystore.ES384]},
		{"ES512 zero scalar", keystore.ES512, zero(67)},
		{"ES512 bad version", keystore.ES512, withByte(blobs[keystore.ES512], 0, 2)},
		{"ES256K zero scalar", keystore.ES256K, zero(33)},
		{"ES256K scalar above the order", keystore.ES256K, append([]byte{softBlobVersion}, bytes.Repeat([]byte{0xff}, 32)...)},
		{"ES256K given an EdDSA blob", keystore.ES256K, blobs[keystore.EdDSA]},
		{"RS256 short", keystore.RS256, rsaBlob[:len(rsaBlob)-1]},
		{"PS256 long", keystore.PS256, append(bytes.Clone(rsaBlob), 0)},
		{"RS256 zero primes", keystore.RS256, zero(len(rsaBlob))},
		{"RS256 small p", keystore.RS256, withByte(rsaBlob, 1, 0)},
		{"RS256 given an ES256 blob", keystore.RS256, blobs[keystore.ES256]},
	} {
		if _, err := NewEngine().Sign(tc.alg, tc.blob, []byte("m")); !errors.Is(err, errBadBlob) {
			t.Errorf("%s: Sign = %v, want errBadBlob", tc.name, err)
		}
	}
}

func TestEngineRSASizes(t *testing.T) {
	for _, bits := range []int{1024, 2047, 4096} {
		if _, err := NewEngineRSA(bits); err == nil {
			t.Errorf("NewEngineRSA(%d) succeeded", bits)
		}
	}
	if s, err := Open(t.TempDir(), Options{RSABits: 4096}); err == nil {
		s.Close()
		t.Error("Open with RSABits 4096 succeeded")
	}
}

// TestCredentialIDLengths checks for both RSA sizes that every algorithm's
// longest non-discoverable credential ID (with the longest credBlob) fits
// in MaxCredentialIDLength, which ES512's sealed ID sets: EC and EdDSA keys
// are sealed into their IDs, RSA keys kept in the store behind 17-byte IDs;
// and that the credential is found and signs.
func TestCredentialIDLengths(t *testing.T) {
	const maxID = sealOverhead + ndPayloadMaxV3 + 1 + 66 // 155
	for _, bits := range []int{DefaultRSABits, RSABits3072} {
		s := mustOpen(t, t.TempDir(), Options{RSABits: bits})
		if got := s.MaxCredentialIDLength(); got != maxID {
			t.Errorf("RSA-%d: MaxCredentialIDLength = %d, want %d", bits, got, maxID)
		}
		for _, alg := range s.Algorithms() {
			name := fmt.Sprintf("RSA-%d, %s", bits, keystore.AlgorithmName(alg))
			c, err := s.Create(keystore.CreateRequest{RPIDHash: testRP, Algorithm: alg, CredBlob: make([]byte, keystore.MaxCredBlobLength)})
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			want := struct {
				kind byte
				n    int
			}{idNonDiscoverableV3, sealOverhead + ndPayloadMaxV3 + blobLen(alg, bits)}
			if alg == keystore.RS256 || alg == keystore.PS256 {
				want.kind, want.n = idNonDiscoverableStoredV1, discoverableIDLen
			}
			if c.ID[0] != want.kind || len(c.ID) != want.n || len(c.ID) > maxID {
				t.Errorf("%s: ID of kind %#x and %d bytes, want %#x and %d", name, c.ID[0], len(c.ID), want.kind, want.n)
			}
			found, err := s.Lookup(testRP, c.ID)
			if err != nil {
				t.Fatalf("%s: Lookup: %v", name, err)
			}
			sig, err := s.Sign(found, []byte("m"))
			if err == nil {
				err = cose.Verify(alg, c.PublicKey, []byte("m"), sig)
			}
			if err != nil {
				t.Errorf("%s: sign and verify: %v", name, err)
			}
		}
		mustClose(t, s)
	}
}

// TestEngineSignsOldBlobs signs with ES256 and EdDSA blobs made by the
// engine before it had more algorithms (vauth 84ff40a): the blob format of
// those algorithms is unchanged, so credentials made then keep working.
func TestEngineSignsOldBlobs(t *testing.T) {
	for _, tc := range []struct {
		alg        int
		blob, spki string
	}{
		{-7, "0118c0c32e28e8fe48dcce8d927a440e3a45e2e28760db994ad89b9abe42e8f9b1", "3059301306072a8648ce3d020106082a8648ce3d0301070342000491aee989e8bad4af1158d21017504ae66d3ae5d0159ba778b218640f27217707af2e3a67e1d31e5db5a264ee93116870eb62dcbec4cb08be0723d3e5955397cb"},
		{-8, "01484ab8736ff1e79d3f4155d990c6ad06876e1aa66e772cb84e7883681b9c56085129b22271ab2712a83d308c2d0a5020310a13c99400fa2ca0c8e1b35a1c36d4", "302a300506032b65700321005129b22271ab2712a83d308c2d0a5020310a13c99400fa2ca0c8e1b35a1c36d4"},
	} {
		blob, _ := hex.DecodeString(tc.blob)
		der, _ := hex.DecodeString(tc.spki)
		pub, err := cose.ParsePKIX(der)
		if err != nil {
			t.Fatal(err)
		}
		sig, err := NewEngine().Sign(tc.alg, blob, []byte("m"))
		if err == nil {
			err = cose.Verify(tc.alg, pub, []byte("m"), sig)
		}
		if err != nil {
			t.Errorf("%s: %v", keystore.AlgorithmName(tc.alg), err)
		}
	}
}

// TestSealedRSAIDs: non-discoverable RSA credentials whose key is sealed
// into their ID, as vauth made them before it kept RSA keys in the store
// (345 bytes for RSA-2048, 473 for RSA-3072 with the longest credBlob),
// are still found, sign and count in a store opened with the default
// 2048 bits, which reports far shorter IDs.
func TestSealedRSAIDs(t *testing.T) {
	for _, tc := range []struct{ bits, idLen int }{{DefaultRSABits, 345}, {RSABits3072, 473}} {
		dir := t.TempDir()
		s := mustOpen(t, dir, Options{RSABits: tc.bits})
		pub, blob, err := s.engine.Generate(keystore.RS256)
		if err != nil {
			t.Fatal(err)
		}
		id, err := s.sealID(&ndPayload{alg: keystore.RS256, created: 1, credBlob: make([]byte, keystore.MaxCredBlobLength), blob: blob}, testRP)
		if err != nil || len(id) != tc.idLen {
			t.Fatalf("RSA-%d: sealed ID of %d bytes, %v; want %d", tc.bits, len(id), err, tc.idLen)
		}
		mustClose(t, s)
		s = mustOpen(t, dir, Options{})
		found, err := s.Lookup(testRP, id)
		if err != nil {
			t.Fatalf("RSA-%d: Lookup: %v", tc.bits, err)
		}
		sig, err := s.Sign(found, []byte("m"))
		if err == nil {
			err = cose.Verify(keystore.RS256, pub, []byte("m"), sig)
		}
		if err != nil {
			t.Errorf("RSA-%d: sign and verify: %v", tc.bits, err)
		}
		if n, err := s.NextCounter(found); err != nil || n != 1 {
			t.Errorf("RSA-%d: NextCounter = %d, %v", tc.bits, n, err)
		}
		if _, err := s.Lookup(sha256.Sum256([]byte("other.example")), id); !errors.Is(err, keystore.ErrNotFound) {
			t.Errorf("RSA-%d: Lookup for another RP: %v, want ErrNotFound", tc.bits, err)
		}
		mustClose(t, s)
	}
}
