package soft

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"sync"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"
	secpecdsa "github.com/decred/dcrd/dcrec/secp256k1/v4/ecdsa"

	"github.com/vauth/vauth/internal/cose"
	"github.com/vauth/vauth/keystore"
)

// softBlobVersion is the first byte of a software key blob. What follows
// depends on the algorithm the blob is stored with:
//
//	ES256, ES256K  the 32-byte private scalar
//	ES384          the 48-byte private scalar
//	ES512          the 66-byte private scalar
//	EdDSA          the 64-byte Ed25519 private key (seed and public key, so
//	               that signing derives nothing)
//	RS256, PS256   the primes p and q, each half the modulus size, big
//	               endian; the public exponent is 65537 and the rest of
//	               the key is derived when it is loaded, which keeps
//	               non-discoverable credential IDs short
const softBlobVersion = 1

// RSA key sizes: DefaultRSABits unless Options.RSABits asks for
// RSABits3072.
const (
	DefaultRSABits = 2048
	RSABits3072    = 3072
	rsaExponent    = 65537 // what rsa.GenerateKey makes, and WebAuthn RPs expect
)

// ecCurves are the scalar sizes and curves of the ECDSA algorithms of
// crypto/ecdsa; ES256K (decred's secp256k1) has 32-byte scalars.
var ecCurves = map[int]struct {
	size  int
	curve elliptic.Curve
}{
	keystore.ES256: {32, elliptic.P256()},
	keystore.ES384: {48, elliptic.P384()},
	keystore.ES512: {66, elliptic.P521()},
}

// keyCacheSize is how many parsed keys an Engine keeps. Parsing a raw
// scalar derives its public key, which costs about half an ECDSA
// signature, and loading RSA primes derives the private exponent and the
// CRT values, and Ed25519 keys sign faster at a stable address; the cache
// makes repeated assertions with one credential pay that once.
const keyCacheSize = 256

var errBadBlob = errors.New("soft: malformed key blob")

// Engine is the software KeyEngine: keys of every algorithm in
// keystore.Preferred, made with crypto/rand and used in process memory.
// Safe for concurrent use.
type Engine struct {
	rsaBits int

	mu sync.Mutex
	// keys are parsed private keys (*ecdsa.PrivateKey,
	// *secp256k1.PrivateKey, *rsa.PrivateKey or ed25519.PrivateKey).
	keys *lru[keyID, any]
}

// keyID names a parsed key: its algorithm (an ES256 and an ES256K blob
// have the same length) and the SHA-256 of its blob.
type keyID struct {
	alg    int
	digest [32]byte
}

func idOf(alg int, blob []byte) keyID { return keyID{alg, sha256.Sum256(blob)} }

// NewEngine returns a software engine that makes RSA keys of
// DefaultRSABits and keeps the most recently used parsed keys in memory.
func NewEngine() *Engine {
	e, _ := NewEngineRSA(DefaultRSABits)
	return e
}

// NewEngineRSA is NewEngine making RSA keys of rsaBits: DefaultRSABits or
// RSABits3072. It sets MaxBlobLen, and so the longest credential ID the
// store reports; keys of either size sign, so a store opened later with
// the smaller size still finds the credentials made with the larger one
// (though a platform that trusts maxCredentialIdLength may leave their
// longer IDs out of an allowList).
func NewEngineRSA(rsaBits int) (*Engine, error) {
	if rsaBits != DefaultRSABits && rsaBits != RSABits3072 {
		return nil, fmt.Errorf("soft: RSA keys of %d bits: want %d or %d", rsaBits, DefaultRSABits, RSABits3072)
	}
	return &Engine{rsaBits: rsaBits, keys: newLRU[keyID, any](keyCacheSize)}, nil
}

// Name implements KeyEngine.
func (e *Engine) Name() string { return "soft" }

// Algorithms implements KeyEngine: all of keystore.Preferred, in its order.
func (e *Engine) Algorithms() []int { return keystore.Preferred() }

// MaxBlobLen implements KeyEngine: the RSA blob of the engine's size is
// the longest.
func (e *Engine) MaxBlobLen() int { return blobLen(keystore.RS256, e.rsaBits) }

// MaxInlineBlobLen implements InlineLimiter: the longest blob of an EC or
// EdDSA key (ES512's), so that only RSA keys are kept in the store and
// every other credential ID stays as it was.
func (e *Engine) MaxInlineBlobLen() int {
	n := 0
	for _, alg := range e.Algorithms() {
		if alg != keystore.RS256 && alg != keystore.PS256 {
			n = max(n, blobLen(alg, e.rsaBits))
		}
	}
	return n
}

// blobLen is the length of a blob of alg; rsaBits is the RSA key size.
func blobLen(alg, rsaBits int) int {
	switch alg {
	case keystore.EdDSA:
		return 1 + ed25519.PrivateKeySize
	case keystore.RS256, keystore.PS256:
		return 1 + rsaBits/8
	case keystore.ES256K:
		return 1 + secp256k1.PrivKeyBytesLen
	}
	return 1 + ecCurves[alg].size
}

// Generate implements KeyEngine.
func (e *Engine) Generate(alg int) (crypto.PublicKey, []byte, error) {
	switch alg {
	case keystore.ES256, keystore.ES384, keystore.ES512:
		k, err := ecdsa.GenerateKey(ecCurves[alg].curve, rand.Reader)
		if err != nil {
			return nil, nil, fmt.Errorf("soft: generate %s key: %w", keystore.AlgorithmName(alg), err)
		}
		raw, err := k.Bytes()
		if err != nil {
			return nil, nil, fmt.Errorf("soft: encode %s key: %w", keystore.AlgorithmName(alg), err)
		}
		blob := append([]byte{softBlobVersion}, raw...)
		clear(raw)
		e.remember(idOf(alg, blob), k)
		return &k.PublicKey, blob, nil
	case keystore.ES256K:
		k, err := secp256k1.GeneratePrivateKey()
		if err != nil {
			return nil, nil, fmt.Errorf("soft: generate secp256k1 key: %w", err)
		}
		blob := make([]byte, blobLen(alg, 0))
		blob[0] = softBlobVersion
		k.Key.PutBytesUnchecked(blob[1:])
		e.remember(idOf(alg, blob), k)
		return k.PubKey(), blob, nil
	case keystore.EdDSA:
		pub, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, nil, fmt.Errorf("soft: generate Ed25519 key: %w", err)
		}
		blob := append([]byte{softBlobVersion}, priv...)
		e.remember(idOf(alg, blob), priv)
		return pub, blob, nil
	case keystore.RS256, keystore.PS256:
		k, err := rsa.GenerateKey(rand.Reader, e.rsaBits)
		if err != nil {
			return nil, nil, fmt.Errorf("soft: generate RSA key: %w", err)
		}
		half := e.rsaBits / 16
		if k.E != rsaExponent || len(k.Primes) != 2 || k.Primes[0].BitLen() > 8*half || k.Primes[1].BitLen() > 8*half {
			return nil, nil, errors.New("soft: crypto/rsa made a key of an unexpected shape")
		}
		blob := make([]byte, 1+2*half)
		blob[0] = softBlobVersion
		k.Primes[0].FillBytes(blob[1 : 1+half])
		k.Primes[1].FillBytes(blob[1+half:])
		e.remember(idOf(alg, blob), k)
		return &k.PublicKey, blob, nil
	default:
		return nil, nil, fmt.Errorf("%w: %d", keystore.ErrUnsupportedAlgorithm, alg)
	}
}

// Sign implements KeyEngine.
func (e *Engine) Sign(alg int, blob []byte, msg []byte) ([]byte, error) {
	k, err := e.key(alg, blob)
	if err != nil {
		return nil, err
	}
	if k, ok := k.(ed25519.PrivateKey); ok {
		return ed25519.Sign(k, msg), nil
	}
	digest, err := cose.Digest(alg, msg)
	if err != nil {
		return nil, fmt.Errorf("%w: %d", keystore.ErrUnsupportedAlgorithm, alg)
	}
	switch k := k.(type) {
	case *ecdsa.PrivateKey:
		return ecdsa.SignASN1(rand.Reader, k, digest)
	case *secp256k1.PrivateKey:
		return secpecdsa.Sign(k, digest).Serialize(), nil
	case *rsa.PrivateKey:
		if alg == keystore.PS256 {
			// RFC 8230 §2: PS256 uses a salt as long as the hash.
			return rsa.SignPSS(rand.Reader, k, crypto.SHA256, digest, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
		}
		return rsa.SignPKCS1v15(rand.Reader, k, crypto.SHA256, digest)
	}
	return nil, errBadBlob
}

// key returns the parsed key of a blob of alg, from the cache when it is
// there.
func (e *Engine) key(alg int, blob []byte) (any, error) {
	if len(blob) == 0 || blob[0] != softBlobVersion {
		return nil, errBadBlob
	}
	id := idOf(alg, blob)
	e.mu.Lock()
	k, ok := e.keys.get(id)
	e.mu.Unlock()
	if ok {
		return k, nil
	}
	k, err := parseBlob(alg, blob)
	if err != nil {
		return nil, err
	}
	e.remember(id, k)
	return k, nil
}

// parseBlob decodes a blob of alg, checking its length for the algorithm.
func parseBlob(alg int, blob []byte) (any, error) {
	switch alg {
	case keystore.EdDSA:
		if len(blob) != blobLen(alg, 0) {
			return nil, errBadBlob
		}
		// A copy the cache keeps: crypto/ed25519 remembers the expanded
		// form of a key by its address, so a key used again signs faster.
		return ed25519.PrivateKey(slices.Clone(blob[1:])), nil
	case keystore.ES256, keystore.ES384, keystore.ES512:
		if len(blob) != blobLen(alg, 0) {
			return nil, errBadBlob
		}
		k, err := ecdsa.ParseRawPrivateKey(ecCurves[alg].curve, blob[1:])
		if err != nil {
			return nil, errBadBlob
		}
		return k, nil
	case keystore.ES256K:
		if len(blob) != blobLen(alg, 0) {
			return nil, errBadBlob
		}
		var s secp256k1.ModNScalar
		if overflow := s.SetByteSlice(blob[1:]); overflow || s.IsZero() {
			return nil, errBadBlob
		}
		return secp256k1.NewPrivateKey(&s), nil
	case keystore.RS256, keystore.PS256:
		if len(blob) != blobLen(alg, DefaultRSABits) && len(blob) != blobLen(alg, RSABits3072) {
			return nil, errBadBlob
		}
		return rsaFromPrimes(blob[1:])
	}
	return nil, fmt.Errorf("%w: %d", keystore.ErrUnsupportedAlgorithm, alg)
}

// rsaFromPrimes rebuilds an RSA key from p || q: the modulus, the private
// exponent for e = 65537, and the CRT values, checked by crypto/rsa.
func rsaFromPrimes(b []byte) (*rsa.PrivateKey, error) {
	half := len(b) / 2
	p, q := new(big.Int).SetBytes(b[:half]), new(big.Int).SetBytes(b[half:])
	n := new(big.Int).Mul(p, q)
	if n.BitLen() != 8*len(b) {
		return nil, errBadBlob
	}
	one := big.NewInt(1)
	phi := new(big.Int).Mul(new(big.Int).Sub(p, one), new(big.Int).Sub(q, one))
	d := new(big.Int).ModInverse(big.NewInt(rsaExponent), phi)
	if d == nil {
		return nil, errBadBlob
	}
	k := &rsa.PrivateKey{PublicKey: rsa.PublicKey{N: n, E: rsaExponent}, D: d, Primes: []*big.Int{p, q}}
	if err := k.Validate(); err != nil {
		return nil, errBadBlob
	}
	k.Precompute()
	return k, nil
}

// remember puts a parsed key in the cache.
func (e *Engine) remember(id keyID, k any) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.keys.put(id, k)
}

var (
	_ KeyEngine     = (*Engine)(nil)
	_ InlineLimiter = (*Engine)(nil)
)
