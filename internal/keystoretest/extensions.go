package keystoretest

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"slices"
	"testing"

	"github.com/vauth/vauth/keystore"
)

// randomBytes returns n random bytes.
func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// testExtensionData: the credBlob of both kinds of credential and the
// largeBlobKey of a discoverable one come back from Create, Lookup,
// Discoverable and All, before and after reopening; a credential made
// without them has none; a credBlob too long, a largeBlobKey of the wrong
// length and one for a non-discoverable credential are refused.
func testExtensionData(t *testing.T, h *harness) {
	type made struct {
		c                      *keystore.Credential
		credBlob, largeBlobKey []byte
	}
	var all []made
	for _, alg := range h.ks.Algorithms() {
		for _, k := range kinds {
			for _, with := range []bool{false, true} {
				req := request(alg, k.discoverable, "ext.example", fmt.Sprintf("u%d-%s-%v", alg, k.name, with))
				if with {
					req.CredBlob = randomBytes(keystore.MaxCredBlobLength)
					if k.discoverable {
						req.LargeBlobKey = randomBytes(keystore.LargeBlobKeyLength)
					}
				}
				c := h.create(req)
				all = append(all, made{c, req.CredBlob, req.LargeBlobKey})
			}
		}
	}
	check := func(when string, got *keystore.Credential, want made) {
		t.Helper()
		if !bytes.Equal(got.CredBlob, want.credBlob) || (want.credBlob == nil) != (got.CredBlob == nil) {
			t.Errorf("%s: credBlob %x, want %x", when, got.CredBlob, want.credBlob)
		}
		if !bytes.Equal(got.LargeBlobKey, want.largeBlobKey) || (want.largeBlobKey == nil) != (got.LargeBlobKey == nil) {
			t.Errorf("%s: largeBlobKey %x, want %x", when, got.LargeBlobKey, want.largeBlobKey)
		}
	}
	verifyAll := func(when string) {
		listed := h.listings("ext.example", when)
		for _, m := range all {
			check(when+": Create", m.c, m)
			check(when+": Lookup", h.lookup(m.c.RPIDHash, m.c.ID), m)
			if !m.c.Discoverable {
				continue
			}
			for _, c := range listed(m.c) {
				check(when+": listed", c, m)
			}
		}
	}
	verifyAll("before reopening")
	h.reopen()
	verifyAll("after reopening")

	alg := h.ks.Algorithms()[0]
	for _, tc := range []struct {
		name string
		edit func(*keystore.CreateRequest)
	}{
		{"a credBlob one byte too long", func(r *keystore.CreateRequest) { r.CredBlob = randomBytes(keystore.MaxCredBlobLength + 1) }},
		{"a short largeBlobKey", func(r *keystore.CreateRequest) { r.LargeBlobKey = randomBytes(keystore.LargeBlobKeyLength - 1) }},
		{"a largeBlobKey for a non-discoverable credential", func(r *keystore.CreateRequest) {
			r.Discoverable, r.LargeBlobKey = false, randomBytes(keystore.LargeBlobKeyLength)
		}},
	} {
		req := request(alg, true, "refused.example", "u")
		tc.edit(&req)
		if c, err := h.ks.Create(req); err == nil {
			t.Errorf("Create with %s = %x, want an error", tc.name, c.ID)
		}
	}
	if got, err := h.ks.Discoverable(rpHash("refused.example")); err != nil || len(got) != 0 {
		t.Errorf("refused creates stored %d credentials (%v)", len(got), err)
	}
}

// testCredRandom: every credential has two CredRandom values (with and
// without user verification) of keystore.CredRandomLength bytes, the same
// on every call, from the credential Create returned or Lookup found, and
// after reopening; different credentials have different ones. A tampered
// credential, another store's credential, and a credential from before
// Reset have none.
func testCredRandom(t *testing.T, h *harness) {
	type values struct {
		c                 *keystore.Credential
		withoutUV, withUV []byte
	}
	get := func(c *keystore.Credential, uv bool) []byte {
		t.Helper()
		r, err := h.ks.CredRandom(c, uv)
		if err != nil {
			t.Fatalf("CredRandom(uv %v): %v", uv, err)
		}
		if len(r) != keystore.CredRandomLength {
			t.Fatalf("CredRandom of %d bytes, want %d", len(r), keystore.CredRandomLength)
		}
		return r
	}
	var made []values
	seen := map[string]bool{}
	for _, alg := range h.ks.Algorithms() {
		for _, k := range kinds {
			c := h.create(request(alg, k.discoverable, "prf.example", "u"+fmt.Sprint(alg)))
			v := values{c, get(c, false), get(c, true)}
			for _, r := range [][]byte{v.withoutUV, v.withUV} {
				if seen[string(r)] {
					t.Errorf("%s alg %d: CredRandom %x repeats another value", k.name, alg, r)
				}
				seen[string(r)] = true
			}
			made = append(made, v)
		}
	}
	check := func(when string) {
		for _, v := range made {
			found := h.lookup(v.c.RPIDHash, v.c.ID)
			if !bytes.Equal(get(found, false), v.withoutUV) || !bytes.Equal(get(found, true), v.withUV) ||
				!bytes.Equal(get(v.c, false), v.withoutUV) {
				t.Errorf("%s: CredRandom of %x changed", when, v.c.ID)
			}
		}
	}
	check("before reopening")
	h.reopen()
	check("after reopening")

	c := made[0].c
	for _, tc := range []struct {
		name   string
		change func(c *keystore.Credential)
	}{
		{"another rpIdHash", func(c *keystore.Credential) { c.RPIDHash = rpHash("other.example") }},
		{"a flipped key handle", func(c *keystore.Credential) { c.KeyHandle[len(c.KeyHandle)/2] ^= 1 }},
		{"an empty key handle", func(c *keystore.Credential) { c.KeyHandle = nil }},
	} {
		bad := *c
		bad.KeyHandle = slices.Clone(c.KeyHandle)
		tc.change(&bad)
		if r, err := h.ks.CredRandom(&bad, false); err == nil {
			t.Errorf("CredRandom with %s = %x, want an error", tc.name, r)
		}
	}
	if r, err := h.ks.CredRandom(nil, true); err == nil {
		t.Errorf("CredRandom(nil) = %x, want an error", r)
	}

	// Another store (another device) cannot compute this store's values.
	// Closed meanwhile, since a TPM holds few objects and swtpm serves one
	// connection.
	if err := h.ks.Close(); err != nil {
		t.Fatal(err)
	}
	h.ks = nil
	other := h.open(t, t.TempDir())
	for _, v := range made {
		if r, err := other.CredRandom(v.c, false); err == nil && bytes.Equal(r, v.withoutUV) {
			t.Errorf("another store reproduced the CredRandom of %x", v.c.ID)
		} else if err == nil {
			t.Errorf("another store gave a CredRandom for a credential it did not make")
		}
	}
	if err := other.Close(); err != nil {
		t.Fatal(err)
	}
	h.ks = h.open(t, h.dir)

	if err := h.ks.Reset(); err != nil {
		t.Fatal(err)
	}
	for _, v := range made {
		if r, err := h.ks.CredRandom(v.c, false); err == nil {
			t.Errorf("CredRandom of a credential from before Reset = %x, want an error", r)
		}
	}
	fresh := h.create(request(h.ks.Algorithms()[0], false, "prf.example", "new"))
	if r := get(fresh, false); seen[string(r)] {
		t.Errorf("a credential made after Reset has an old CredRandom")
	}
}
