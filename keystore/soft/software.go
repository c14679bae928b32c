package soft

import (
	"container/list"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"

	"github.com/vauth/vauth/keystore"
)

// softBlobVersion is the first byte of a software key blob.
const softBlobVersion = 1

// Key blob lengths: the version byte, then the raw P-256 scalar or the
// 64-byte Ed25519 private key (seed and public key, so that signing derives
// nothing).
const (
	es256BlobLen = 1 + 32
	eddsaBlobLen = 1 + ed25519.PrivateKeySize
)

// keyCacheSize is how many parsed P-256 keys an Engine keeps. Parsing a raw
// P-256 scalar derives its public key, which costs about half a signature;
// the cache makes repeated assertions with one credential pay it once.
const keyCacheSize = 256

var errBadBlob = errors.New("soft: malformed key blob")

// Engine is the software KeyEngine: ES256 and EdDSA keys made with
// crypto/rand and used in process memory. Safe for concurrent use.
type Engine struct {
	mu    sync.Mutex
	size  int
	lru   *list.List                 // of *cachedKey, most recent first
	byKey map[[32]byte]*list.Element // by SHA-256 of the blob
}

// cachedKey is a parsed P-256 key, found by the SHA-256 of its blob.
type cachedKey struct {
	digest [32]byte
	key    *ecdsa.PrivateKey
}

// NewEngine returns a software engine that keeps the most recently used
// parsed P-256 keys in memory.
func NewEngine() *Engine {
	return &Engine{size: keyCacheSize, lru: list.New(), byKey: map[[32]byte]*list.Element{}}
}

// Name implements KeyEngine.
func (e *Engine) Name() string { return "soft" }

// Algorithms implements KeyEngine: ES256, then EdDSA.
func (e *Engine) Algorithms() []int { return []int{keystore.ES256, keystore.EdDSA} }

// MaxBlobLen implements KeyEngine.
func (e *Engine) MaxBlobLen() int { return max(es256BlobLen, eddsaBlobLen) }

// Generate implements KeyEngine.
func (e *Engine) Generate(alg int) (crypto.PublicKey, []byte, error) {
	switch alg {
	case keystore.ES256:
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, nil, fmt.Errorf("soft: generate P-256 key: %w", err)
		}
		raw, err := k.Bytes()
		if err != nil {
			return nil, nil, fmt.Errorf("soft: encode P-256 key: %w", err)
		}
		blob := append([]byte{softBlobVersion}, raw...)
		clear(raw)
		e.remember(sha256.Sum256(blob), k)
		return &k.PublicKey, blob, nil
	case keystore.EdDSA:
		pub, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, nil, fmt.Errorf("soft: generate Ed25519 key: %w", err)
		}
		blob := append([]byte{softBlobVersion}, priv...)
		clear(priv)
		return pub, blob, nil
	default:
		return nil, nil, fmt.Errorf("%w: %d", keystore.ErrUnsupportedAlgorithm, alg)
	}
}

// Sign implements KeyEngine.
func (e *Engine) Sign(alg int, blob []byte, msg []byte) ([]byte, error) {
	switch alg {
	case keystore.ES256:
		k, err := e.p256Key(blob)
		if err != nil {
			return nil, err
		}
		digest := sha256.Sum256(msg)
		return ecdsa.SignASN1(rand.Reader, k, digest[:])
	case keystore.EdDSA:
		if len(blob) != eddsaBlobLen || blob[0] != softBlobVersion {
			return nil, errBadBlob
		}
		return ed25519.Sign(ed25519.PrivateKey(blob[1:]), msg), nil
	default:
		return nil, fmt.Errorf("%w: %d", keystore.ErrUnsupportedAlgorithm, alg)
	}
}

// p256Key returns the parsed key of an ES256 blob, from the cache when it is
// there.
func (e *Engine) p256Key(blob []byte) (*ecdsa.PrivateKey, error) {
	if len(blob) != es256BlobLen || blob[0] != softBlobVersion {
		return nil, errBadBlob
	}
	digest := sha256.Sum256(blob)
	e.mu.Lock()
	if el, ok := e.byKey[digest]; ok {
		e.lru.MoveToFront(el)
		e.mu.Unlock()
		return el.Value.(*cachedKey).key, nil
	}
	e.mu.Unlock()
	k, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), blob[1:])
	if err != nil {
		return nil, errBadBlob
	}
	e.remember(digest, k)
	return k, nil
}

// remember puts a parsed key in the cache, evicting the least recently used
// one when the cache is full.
func (e *Engine) remember(digest [32]byte, k *ecdsa.PrivateKey) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if el, ok := e.byKey[digest]; ok {
		e.lru.MoveToFront(el)
		return
	}
	e.byKey[digest] = e.lru.PushFront(&cachedKey{digest: digest, key: k})
	for e.lru.Len() > e.size {
		oldest := e.lru.Back()
		e.lru.Remove(oldest)
		delete(e.byKey, oldest.Value.(*cachedKey).digest)
	}
}

var _ KeyEngine = (*Engine)(nil)
