package keystoretest

import (
	"bytes"
	"errors"
	"testing"

	"github.com/vauth/vauth/keystore"
)

// testNonDiscoverableEveryAlgorithm: a non-discoverable credential of each
// algorithm, with the longest credBlob and the thirdPartyPayment mark,
// whether the backend seals its key into its ID or keeps it in the store
// behind a short ID (keystore/soft does for keys too long for an ID):
// its ID fits MaxCredentialIDLength, it looks up whole and signs for its
// own RP only, it is in no listing or count, it can be neither deleted nor
// renamed, it survives reopening with its counter still increasing, and
// Reset removes it.
func testNonDiscoverableEveryAlgorithm(t *testing.T, h *harness) {
	const rpID = "nd.example"
	type made struct {
		c    *keystore.Credential
		last uint32
	}
	var nds []*made
	for i, alg := range h.ks.Algorithms() {
		req := request(alg, false, rpID, "")
		req.User = keystore.User{}
		req.CredProtect = 3
		req.CredBlob = bytes.Repeat([]byte{byte(i + 1)}, keystore.MaxCredBlobLength)
		req.ThirdPartyPayment = true
		nds = append(nds, &made{c: h.create(req)})
	}
	// A discoverable credential of the same RP, the only one listed.
	d := h.create(request(h.ks.Algorithms()[0], true, rpID, "d"))
	only := [][]byte{d.ID}
	check := func(when string) {
		t.Helper()
		for _, m := range nds {
			name := when + ": " + keystore.AlgorithmName(m.c.Algorithm)
			got := h.lookup(rpHash(rpID), m.c.ID)
			checkFound(t, got, m.c)
			if !bytes.Equal(got.CredBlob, m.c.CredBlob) || !got.ThirdPartyPayment || got.Discoverable {
				t.Errorf("%s: Lookup = credBlob %x, thirdPartyPayment %v, discoverable %v; want %x, true, false",
					name, got.CredBlob, got.ThirdPartyPayment, got.Discoverable, m.c.CredBlob)
			}
			h.signVerify(got, m.c.PublicKey, []byte(name))
			h.notFound(rpHash("other.example"), m.c.ID, name+" ID with another rpIdHash")
			if n := h.counter(got); n <= m.last {
				t.Errorf("%s: counter went from %d to %d", name, m.last, n)
			} else {
				m.last = n
			}
			if err := h.ks.Delete(m.c.ID); !errors.Is(err, keystore.ErrNotFound) {
				t.Errorf("%s: Delete: %v, want ErrNotFound", name, err)
			}
			if err := h.ks.UpdateUser(m.c.ID, keystore.User{ID: []byte("u")}); !errors.Is(err, keystore.ErrNotFound) {
				t.Errorf("%s: UpdateUser: %v, want ErrNotFound", name, err)
			}
			if f, ok := h.ks.(keystore.DiscoverableFinder); ok {
				if c, err := f.FindDiscoverable(m.c.ID); !errors.Is(err, keystore.ErrNotFound) {
					t.Errorf("%s: FindDiscoverable = %v, %v; want ErrNotFound", name, c, err)
				}
			}
		}
		listed, err := h.ks.Discoverable(rpHash(rpID))
		if err != nil || !sameIDs(ids(listed), only) {
			t.Errorf("%s: Discoverable = %x, %v; want %x", when, ids(listed), err, only)
		}
		all, err := h.ks.All()
		if err != nil || !sameIDs(ids(all), only) {
			t.Errorf("%s: All = %x, %v; want %x", when, ids(all), err, only)
		}
		if c, ok := h.ks.(keystore.DiscoverableCounter); ok {
			if n, err := c.CountDiscoverable(); err != nil || n != 1 {
				t.Errorf("%s: CountDiscoverable = %d, %v; want 1", when, n, err)
			}
		}
		if l, ok := h.ks.(keystore.RPLister); ok {
			if rps, err := l.DiscoverableRPs(); err != nil || !sameIDs(ids(rps), only) {
				t.Errorf("%s: DiscoverableRPs = %x, %v; want %x", when, ids(rps), err, only)
			}
		}
	}
	check("before reopening")
	h.reopen()
	check("after reopening")

	if err := h.ks.Reset(); err != nil {
		t.Fatalf("Reset: %v", err)
	}
	for _, m := range nds {
		name := keystore.AlgorithmName(m.c.Algorithm)
		h.notFound(rpHash(rpID), m.c.ID, name+" after Reset")
		if _, err := h.ks.NextCounter(m.c); !errors.Is(err, keystore.ErrNotFound) {
			t.Errorf("%s: NextCounter after Reset: %v, want ErrNotFound", name, err)
		}
		if _, err := h.ks.Sign(m.c, []byte("after reset")); err == nil {
			t.Errorf("%s: Sign after Reset succeeded", name)
		}
	}
}
