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
	"encoding/binary"
	"testing"
	"time"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"
	secpecdsa "github.com/decred/dcrd/dcrec/secp256k1/v4/ecdsa"

	"github.com/vauth/vauth/keystore"
)

// signedLen is about what an assertion signs: authenticatorData (37
// bytes) and the clientDataHash.
const signedLen = 37 + 32

// message is what a floor signs: assertion-sized, with the signature
// counter's place in authenticatorData bumped at each use, as in real
// assertions. Signing one message over and over would give deterministic
// nonces (RFC 6979, Ed25519) the same branches each time, which
// variable-time code such as decred's secp256k1 runs about 8% faster.
type message struct {
	b [signedLen]byte
	n uint32
}

// next returns the next message; it is valid until the next call.
func (m *message) next() []byte {
	m.n++
	binary.BigEndian.PutUint32(m.b[32+1:], m.n) // after rpIdHash and flags
	return m.b[:]
}

// pairBatch is how many operations Paired runs of each side in turn:
// about a millisecond of either.
const pairBatch = 16

// Paired measures an operation against its floor side by side: each
// iteration runs pairBatch of the one, then pairBatch of the other, so that
// both meet the same machine (a shared machine's speed drifts within a
// second by more than the margins measured here). It reports each side's
// time per operation ("op-ns", "floor-ns"), their ratio ("ratio") and the
// operation's allocations ("op-allocs"); the ns/op that testing prints is
// per iteration, 2×pairBatch operations.
func Paired(op, floor func(*testing.B) func()) func(*testing.B) {
	return func(b *testing.B) {
		a, f := op(b), floor(b)
		a() // first use: keys parsed, caches filled
		f()
		var ta, tf time.Duration
		for b.Loop() {
			t0 := time.Now()
			for range pairBatch {
				a()
			}
			t1 := time.Now()
			for range pairBatch {
				f()
			}
			ta, tf = ta+t1.Sub(t0), tf+time.Since(t1)
		}
		n := float64(b.N * pairBatch)
		b.ReportMetric(float64(ta.Nanoseconds())/n, "op-ns")
		b.ReportMetric(float64(tf.Nanoseconds())/n, "floor-ns")
		b.ReportMetric(float64(ta)/float64(tf), "ratio")
		b.ReportMetric(testing.AllocsPerRun(pairBatch, a), "op-allocs")
	}
}

// BareSignOp is the floor of alg's assertion: one signature of the same
// kind with a key of the same type, made directly with the library vauth
// uses (crypto/ecdsa, crypto/ed25519, crypto/rsa, decred's secp256k1), over
// the hash of an assertion's message.
func BareSignOp(alg int) func(*testing.B) func() {
	return func(b *testing.B) func() {
		sign := bareSigner(b, alg)
		var msg message
		return func() {
			if err := sign(msg.next()); err != nil {
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

// GetAssertionOp is one assertion with a non-discoverable credential of
// alg (RSA keys of the default 2048 bits) through the pipe, for Paired.
func GetAssertionOp(alg int) func(*testing.B) func() {
	return func(b *testing.B) func() { return getAssertionOp(b, pipe, alg) }
}
