package keystoretest

import (
	"errors"
	"fmt"
	"testing"

	"github.com/vauth/vauth/keystore"
)

// testIndexes checks the optional index interfaces a backend implements
// (keystore.DiscoverableCounter, RPLister, DiscoverableFinder) against
// what All() says, through creations, replacements, deletions, reopening
// and Reset. A backend without them skips the test.
func testIndexes(t *testing.T, h *harness) {
	counter, isCounter := h.ks.(keystore.DiscoverableCounter)
	lister, isLister := h.ks.(keystore.RPLister)
	finder, isFinder := h.ks.(keystore.DiscoverableFinder)
	if !isCounter && !isLister && !isFinder {
		t.Skip("the backend has no optional indexes")
	}
	check := func(when string) {
		t.Helper()
		// The harness reopens the store: take the interfaces anew.
		counter, _ = h.ks.(keystore.DiscoverableCounter)
		lister, _ = h.ks.(keystore.RPLister)
		finder, _ = h.ks.(keystore.DiscoverableFinder)
		all, err := h.ks.All()
		if err != nil {
			t.Fatalf("%s: All: %v", when, err)
		}
		if isCounter {
			if n, err := counter.CountDiscoverable(); err != nil || n != len(all) {
				t.Errorf("%s: CountDiscoverable() = %d, %v; All() has %d", when, n, err, len(all))
			}
		}
		if isLister {
			var want []*keystore.Credential
			seen := map[[32]byte]bool{}
			for _, c := range all {
				if !seen[c.RPIDHash] {
					seen[c.RPIDHash] = true
					want = append(want, c)
				}
			}
			got, err := lister.DiscoverableRPs()
			if err != nil || !sameIDs(ids(got), ids(want)) {
				t.Errorf("%s: DiscoverableRPs() = %x, %v; want the newest of each RP %x", when, ids(got), err, ids(want))
			}
			for i := range min(len(got), len(want)) {
				checkFound(t, got[i], want[i])
			}
		}
		if isFinder {
			for _, c := range all {
				got, err := finder.FindDiscoverable(c.ID)
				if err != nil {
					t.Errorf("%s: FindDiscoverable(%x): %v", when, c.ID, err)
					continue
				}
				checkFound(t, got, c)
			}
		}
	}
	notFound := func(id []byte, what string) {
		t.Helper()
		if !isFinder {
			return
		}
		if c, err := finder.FindDiscoverable(id); !errors.Is(err, keystore.ErrNotFound) {
			t.Errorf("FindDiscoverable of %s = %v, %v; want ErrNotFound", what, c, err)
		}
	}

	check("empty store")
	alg := h.ks.Algorithms()[0]
	var made []*keystore.Credential
	for i, rp := range []string{"a.example", "b.example", "a.example", "c.example", "b.example"} {
		made = append(made, h.create(request(alg, true, rp, fmt.Sprint(i))))
		nd := h.create(request(alg, false, rp, "nd"))
		notFound(nd.ID, "a non-discoverable credential")
	}
	check("after creating")
	// b.example's user 1 again: replaced, so the count stays.
	h.create(request(alg, true, "b.example", "1"))
	notFound(made[1].ID, "a replaced credential")
	check("after replacing")
	// c.example loses its only credential, and with it its place.
	for _, c := range []*keystore.Credential{made[3], made[0]} {
		if err := h.ks.Delete(c.ID); err != nil {
			t.Fatalf("Delete: %v", err)
		}
		notFound(c.ID, "a deleted credential")
	}
	check("after deleting")
	notFound(nil, "no ID")
	notFound(make([]byte, len(made[2].ID)), "an unknown ID")
	h.reopen()
	check("after reopening")
	if err := h.ks.Reset(); err != nil {
		t.Fatalf("Reset: %v", err)
	}
	check("after Reset")
	h.create(request(alg, true, "d.example", "after reset"))
	check("after Reset and a new credential")
}
