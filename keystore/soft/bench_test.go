package soft

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"testing"
	"time"

	"github.com/vauth/vauth/keystore"
)

// assertionMsg is what an assertion signs: authenticatorData (37 bytes)
// followed by clientDataHash.
var assertionMsg = make([]byte, 37+32)

// BenchmarkBareECDSA is one P-256 signature and nothing else: the yardstick
// of the assertion benchmarks.
func BenchmarkBareECDSA(b *testing.B) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		digest := sha256.Sum256(assertionMsg)
		if _, err := ecdsa.SignASN1(rand.Reader, k, digest[:]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBareEd25519 is one Ed25519 signature and nothing else.
func BenchmarkBareEd25519(b *testing.B) {
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		ed25519.Sign(k, assertionMsg)
	}
}

var benchCases = []struct {
	name         string
	alg          int
	discoverable bool
}{
	{"ES256/nondiscoverable", keystore.ES256, false},
	{"ES256/discoverable", keystore.ES256, true},
	{"EdDSA/nondiscoverable", keystore.EdDSA, false},
	{"EdDSA/discoverable", keystore.EdDSA, true},
}

func benchCredential(b *testing.B, alg int, discoverable bool) (*Store, *keystore.Credential) {
	b.Helper()
	s, err := Open(b.TempDir(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	c, err := s.Create(keystore.CreateRequest{
		RPID: "example.com", RPIDHash: testRP, User: keystore.User{ID: []byte("u")},
		Algorithm: alg, Discoverable: discoverable,
	})
	if err != nil {
		b.Fatal(err)
	}
	return s, c
}

// BenchmarkSign is Store.Sign: unseal the key handle, then sign.
func BenchmarkSign(b *testing.B) {
	for _, bc := range benchCases {
		b.Run(bc.name, func(b *testing.B) {
			s, c := benchCredential(b, bc.alg, bc.discoverable)
			for b.Loop() {
				if _, err := s.Sign(c, assertionMsg); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkAssertPath is the keystore's share of a GetAssertion: Lookup,
// NextCounter and Sign.
func BenchmarkAssertPath(b *testing.B) {
	for _, bc := range benchCases {
		b.Run(bc.name, func(b *testing.B) {
			s, c := benchCredential(b, bc.alg, bc.discoverable)
			for b.Loop() {
				found, err := s.Lookup(testRP, c.ID)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := s.NextCounter(found); err != nil {
					b.Fatal(err)
				}
				if _, err := s.Sign(found, assertionMsg); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkAssertPathRatio interleaves batches of bare P-256 signatures and
// of ES256 assertion paths (Lookup, NextCounter, Sign) and reports how many
// bare signatures the fastest path batch cost, against the fastest bare
// batch: a figure that stays meaningful on a busy machine. Its ns/op is the
// time of one batch of each.
func BenchmarkAssertPathRatio(b *testing.B) {
	for _, discoverable := range []bool{false, true} {
		name := "nondiscoverable"
		if discoverable {
			name = "discoverable"
		}
		b.Run(name, func(b *testing.B) {
			s, c := benchCredential(b, keystore.ES256, discoverable)
			k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			if err != nil {
				b.Fatal(err)
			}
			const batch = 16
			bestBare, bestPath := time.Duration(1<<63-1), time.Duration(1<<63-1)
			for b.Loop() {
				start := time.Now()
				for range batch {
					digest := sha256.Sum256(assertionMsg)
					if _, err := ecdsa.SignASN1(rand.Reader, k, digest[:]); err != nil {
						b.Fatal(err)
					}
				}
				bestBare = min(bestBare, time.Since(start))
				start = time.Now()
				for range batch {
					found, err := s.Lookup(testRP, c.ID)
					if err != nil {
						b.Fatal(err)
					}
					if _, err := s.NextCounter(found); err != nil {
						b.Fatal(err)
					}
					if _, err := s.Sign(found, assertionMsg); err != nil {
						b.Fatal(err)
					}
				}
				bestPath = min(bestPath, time.Since(start))
			}
			b.ReportMetric(float64(bestPath)/float64(bestBare), "bare-signatures/assertion")
		})
	}
}
