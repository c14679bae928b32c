package soft

import (
	"bytes"
	"crypto/rand"
	"slices"
	"testing"

	"golang.org/x/crypto/chacha20poly1305"
)

// TestOpenCache checks that the cache answers what opening answers: the
// plaintext for the right associated data, a failure for any other (even
// right after a success) and for altered sealed bytes with the same tag, a
// bound on its size, and nothing after wipe.
func TestOpenCache(t *testing.T) {
	aead, err := chacha20poly1305.NewX(make([]byte, chacha20poly1305.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	c := newOpenCache()
	ad, otherAD := []byte("rp one"), []byte("rp two")
	var sealedAll [][]byte
	for i := range openCacheSize + 10 {
		sealed, err := seal(aead, rand.Reader, []byte{byte(i), 1, 2, 3}, ad)
		if err != nil {
			t.Fatal(err)
		}
		sealedAll = append(sealedAll, sealed)
		for range 2 { // a miss, then a hit
			plain, err := c.open(aead, sealed, ad)
			if err != nil || !bytes.Equal(plain, []byte{byte(i), 1, 2, 3}) {
				t.Fatalf("open %d = % x, %v", i, plain, err)
			}
			if _, err := c.open(aead, sealed, otherAD); err == nil {
				t.Fatalf("sealed %d opened with other associated data", i)
			}
			// The same tag (the cache's key) on other sealed bytes.
			forged := slices.Clone(sealed)
			forged[len(forged)-len(openTag{})-1] ^= 1
			if _, err := c.open(aead, forged, ad); err == nil {
				t.Fatalf("sealed %d, altered but for its tag, opened", i)
			}
		}
		if c.entries.len() > openCacheSize {
			t.Fatalf("cache holds %d entries, bound %d", c.entries.len(), openCacheSize)
		}
	}
	last := sealedAll[len(sealedAll)-1]
	kept, _ := c.entries.get(openTag(last[len(last)-len(openTag{}):]))
	c.wipe()
	if c.entries.len() != 0 || len(kept.plain) == 0 || !bytes.Equal(kept.plain, make([]byte, len(kept.plain))) {
		t.Errorf("after wipe: %d entries, a kept plaintext reads % x", c.entries.len(), kept.plain)
	}
	if plain, err := c.open(aead, sealedAll[0], ad); err != nil || plain[0] != 0 {
		t.Errorf("open after wipe = % x, %v", plain, err)
	}
}
