package soft

import (
	"crypto/cipher"
	"slices"
	"sync"

	"golang.org/x/crypto/chacha20poly1305"
)

// openCacheSize is how many opened credential IDs and key handles a store
// remembers.
const openCacheSize = 256

// openCache remembers what the most recently opened credential IDs and key
// handles opened to. An assertion opens its credential twice (to look it
// up, then to sign), and a relying party's tests assert with one credential
// again and again; each open is an XChaCha20-Poly1305 decryption.
// Opening is deterministic, so the plaintext found here under the same
// sealed bytes and associated data is what opening them again would give.
// A cache belongs to one set of sealKeys and is wiped with them.
type openCache struct {
	mu      sync.Mutex
	entries *lru[openTag, opened]
}

// openTag finds an entry: the sealed bytes' Poly1305 tag, a fixed-size key
// that a lookup builds without allocating. The entry's sealed bytes and
// associated data must match as well.
type openTag [chacha20poly1305.Overhead]byte

type opened struct {
	sealed, ad string
	plain      []byte
}

func newOpenCache() *openCache { return &openCache{entries: newLRU[openTag, opened](openCacheSize)} }

// open is open(aead, sealed, ad) through the cache. The plaintext belongs to
// the cache: the caller neither changes nor clears it.
func (c *openCache) open(aead cipher.AEAD, sealed, ad []byte) ([]byte, error) {
	if len(sealed) < sealOverhead {
		return nil, errOpen // as open would answer
	}
	tag := openTag(sealed[len(sealed)-len(openTag{}):])
	c.mu.Lock()
	e, ok := c.entries.get(tag)
	c.mu.Unlock()
	if ok && e.sealed == string(sealed) && e.ad == string(ad) {
		return e.plain, nil
	}
	// The AEAD sees a copy of ad, so that callers can build ad on their
	// stacks.
	plain, err := open(aead, sealed, slices.Clone(ad))
	if err != nil {
		return nil, err
	}
	// An entry forgotten to make room keeps its plaintext: an operation may
	// still be using it; wipe clears them all when none can be.
	c.mu.Lock()
	defer c.mu.Unlock()
	c.entries.put(tag, opened{string(sealed), string(ad), plain})
	return plain, nil
}

// wipe clears every plaintext and empties the cache; the store holds no
// operation when it calls it (Reset, Close). Nil-safe.
func (c *openCache) wipe() {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.entries.clear(func(e opened) { clear(e.plain) })
}
