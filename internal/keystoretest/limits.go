package keystoretest

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/vauth/vauth/keystore"
)

// farOver is the "far over" size of the boundary matrix: 64 KiB, or 64 KiB
// over a limit that is itself near that.
func farOver(limit int) int {
	if n := 64 << 10; n > limit+1 {
		return n
	}
	return limit + 64<<10
}

// boundaryName is a name of n bytes of UTF-8 that ends in a multi-byte
// character, so that a backend mangling bytes near the end shows.
func boundaryName(n int) string {
	const tail = "é" // 2 bytes
	return strings.Repeat("n", n-len(tail)) + tail
}

// storedField is a field a discoverable credential keeps, its limit, and
// how to set it to n bytes in a request and read it back.
type storedField struct {
	name  string
	limit int
	set   func(r *keystore.CreateRequest, n int)
	get   func(c *keystore.Credential) []byte
}

var storedFields = []storedField{
	{"rp.id", keystore.MaxRPIDLength,
		func(r *keystore.CreateRequest, n int) { r.RPID = strings.Repeat("r", n); r.RPIDHash = rpHash(r.RPID) },
		func(c *keystore.Credential) []byte { return []byte(c.RPID) }},
	{"user.id", keystore.MaxUserIDLength,
		func(r *keystore.CreateRequest, n int) { r.User.ID = bytes.Repeat([]byte{0xab}, n) },
		func(c *keystore.Credential) []byte { return c.User.ID }},
	{"user.name", keystore.MaxUserNameLength,
		func(r *keystore.CreateRequest, n int) { r.User.Name = boundaryName(n) },
		func(c *keystore.Credential) []byte { return []byte(c.User.Name) }},
	{"user.displayName", keystore.MaxUserNameLength,
		func(r *keystore.CreateRequest, n int) { r.User.DisplayName = boundaryName(n) },
		func(c *keystore.Credential) []byte { return []byte(c.User.DisplayName) }},
	{"credBlob", keystore.MaxCredBlobLength,
		func(r *keystore.CreateRequest, n int) { r.CredBlob = randomBytes(n) },
		func(c *keystore.Credential) []byte { return c.CredBlob }},
	{"largeBlobKey", keystore.LargeBlobKeyLength,
		func(r *keystore.CreateRequest, n int) { r.LargeBlobKey = randomBytes(n) },
		func(c *keystore.Credential) []byte { return c.LargeBlobKey }},
}

// limitRequest is a discoverable credential of ordinary size for the
// boundary matrix.
func limitRequest(alg int) keystore.CreateRequest {
	return keystore.CreateRequest{
		RPID: "limits.example", RPIDHash: rpHash("limits.example"), Algorithm: alg, Discoverable: true,
		User: keystore.User{ID: []byte("limits"), Name: "limits", DisplayName: "Limits"},
	}
}

// testLimits is the boundary matrix of the stored fields: each field at
// its limit, all of them at once, one byte over and far over (and an empty
// user ID and RP ID). At the limit a credential round-trips through Create,
// Lookup, Discoverable, All, UpdateUser and reopening; over it, Create and
// UpdateUser fail with keystore.ErrInvalidLength, store nothing and leave
// the store as it was.
func testLimits(t *testing.T, h *harness) {
	alg := h.ks.Algorithms()[0]
	// Each case makes one credential from limitRequest changed by edit.
	type boundary struct {
		name  string
		edit  func(*keystore.CreateRequest)
		fits  bool
		check func(t *testing.T, c *keystore.Credential) // at the limit: the field came back
	}
	var cases []boundary
	allAtLimit := boundary{name: "every field at its limit", fits: true}
	for _, f := range storedFields {
		want := func(r keystore.CreateRequest) []byte {
			c := &keystore.Credential{RPID: r.RPID, User: r.User, CredBlob: r.CredBlob, LargeBlobKey: r.LargeBlobKey}
			return f.get(c)
		}
		var wantAt []byte
		at := func(r *keystore.CreateRequest) { f.set(r, f.limit); wantAt = want(*r) }
		check := func(t *testing.T, c *keystore.Credential) {
			t.Helper()
			if got := f.get(c); !bytes.Equal(got, wantAt) {
				t.Errorf("%s of %d bytes came back as %d bytes", f.name, len(wantAt), len(got))
			}
		}
		cases = append(cases,
			boundary{f.name + " at its limit", at, true, check},
			boundary{f.name + " one over", func(r *keystore.CreateRequest) { f.set(r, f.limit+1) }, false, nil},
			boundary{f.name + " far over", func(r *keystore.CreateRequest) { f.set(r, farOver(f.limit)) }, false, nil})
		prevEdit, prevCheck := allAtLimit.edit, allAtLimit.check
		allAtLimit.edit = func(r *keystore.CreateRequest) {
			if prevEdit != nil {
				prevEdit(r)
			}
			at(r)
		}
		allAtLimit.check = func(t *testing.T, c *keystore.Credential) {
			t.Helper()
			if prevCheck != nil {
				prevCheck(t, c)
			}
			check(t, c)
		}
	}
	cases = append(cases, allAtLimit,
		boundary{"an empty user.id", func(r *keystore.CreateRequest) { r.User.ID = nil }, false, nil},
		boundary{"an empty rp.id", func(r *keystore.CreateRequest) { r.RPID = ""; r.RPIDHash = rpHash("") }, false, nil},
		boundary{"a non-discoverable credential's credBlob one over", func(r *keystore.CreateRequest) {
			r.Discoverable, r.CredBlob = false, randomBytes(keystore.MaxCredBlobLength+1)
		}, false, nil},
		boundary{"a non-discoverable credential's credBlob far over", func(r *keystore.CreateRequest) {
			r.Discoverable, r.CredBlob = false, randomBytes(farOver(keystore.MaxCredBlobLength))
		}, false, nil})

	// A credential made before the matrix must come through every refusal.
	bystander := h.create(limitRequest(alg))
	var made []*keystore.Credential // the credentials at the limits, newest first
	for _, tc := range cases {
		req := limitRequest(alg)
		req.User.ID = []byte(tc.name) // each its own user: no replacing
		tc.edit(&req)
		c, err := h.ks.Create(req)
		switch {
		case !tc.fits && !errors.Is(err, keystore.ErrInvalidLength):
			t.Errorf("Create with %s: %v, want an error wrapping ErrInvalidLength", tc.name, err)
			continue
		case !tc.fits:
			continue
		case err != nil:
			t.Errorf("Create with %s: %v", tc.name, err)
			continue
		}
		checkCreated(t, h.ks, req, c)
		tc.check(t, c)
		checkFound(t, h.lookup(c.RPIDHash, c.ID), c)
		tc.check(t, h.lookup(c.RPIDHash, c.ID))
		listed, err := h.ks.Discoverable(c.RPIDHash)
		if i := slices.IndexFunc(listed, func(l *keystore.Credential) bool { return bytes.Equal(l.ID, c.ID) }); err != nil || i < 0 {
			t.Errorf("%s: Discoverable = %x, %v; want it listed", tc.name, ids(listed), err)
		} else {
			tc.check(t, listed[i])
		}
		made = append([]*keystore.Credential{c}, made...)
	}
	// Renaming to names at the limit keeps every other field; over it is
	// refused and changes nothing.
	for _, c := range made {
		renamed := keystore.User{ID: c.User.ID, Name: boundaryName(keystore.MaxUserNameLength), DisplayName: strings.Repeat("d", keystore.MaxUserNameLength)}
		if err := h.ks.UpdateUser(c.ID, renamed); err != nil {
			t.Errorf("UpdateUser to names at the limit: %v", err)
			continue
		}
		c.User = renamed
		checkFound(t, h.lookup(c.RPIDHash, c.ID), c)
	}
	target := made[0] // every field at its limit
	for _, tc := range []struct {
		name string
		user keystore.User
	}{
		{"a name one over", keystore.User{ID: target.User.ID, Name: boundaryName(keystore.MaxUserNameLength + 1)}},
		{"a name far over", keystore.User{ID: target.User.ID, Name: boundaryName(farOver(keystore.MaxUserNameLength))}},
		{"a display name one over", keystore.User{ID: target.User.ID, DisplayName: boundaryName(keystore.MaxUserNameLength + 1)}},
		{"a display name far over", keystore.User{ID: target.User.ID, DisplayName: boundaryName(farOver(keystore.MaxUserNameLength))}},
	} {
		if err := h.ks.UpdateUser(target.ID, tc.user); !errors.Is(err, keystore.ErrInvalidLength) {
			t.Errorf("UpdateUser with %s: %v, want an error wrapping ErrInvalidLength", tc.name, err)
		}
	}

	want := append(slices.Clone(made), bystander)
	checkStore := func(when string) {
		t.Helper()
		all, err := h.ks.All()
		if err != nil || !sameIDs(ids(all), ids(want)) {
			t.Fatalf("%s: All = %d credentials (%v), want the %d made", when, len(all), err, len(want))
		}
		for i, c := range all {
			checkFound(t, c, want[i])
			if !bytes.Equal(c.CredBlob, want[i].CredBlob) || !bytes.Equal(c.LargeBlobKey, want[i].LargeBlobKey) {
				t.Errorf("%s: credential %d lost its credBlob or largeBlobKey", when, i)
			}
		}
		h.signVerify(h.lookup(target.RPIDHash, target.ID), target.PublicKey, []byte("at the limits"))
	}
	checkStore("before reopening")
	h.reopen()
	checkStore("after reopening")
	// The refusals left a store that takes new credentials.
	h.create(limitRequest(alg))
}
