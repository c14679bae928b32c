// Package keystoretest is the conformance suite that every keystore.Keystore
// backend passes: credentials of both kinds for every algorithm, lookups
// that must fail (other RP, tampered or malformed IDs), listings, updates,
// signatures, counters, blobs, reset, durability across reopening,
// concurrent use, and the extension data (credBlob, largeBlobKey,
// hmac-secret's CredRandom, the thirdPartyPayment mark).
package keystoretest

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/vauth/vauth/internal/cose"
	"github.com/vauth/vauth/keystore"
)

// Opener opens the backend's store in dir. Opening the same dir again after
// Close must give the same store. A backend's opener captures whatever else
// it needs (a TPM, a passphrase) and cleans it up with t.Cleanup.
type Opener func(t *testing.T, dir string) keystore.Keystore

// Run runs the suite against the backend that open opens. Each subtest gets
// a new directory.
func Run(t *testing.T, open Opener) {
	tests := []struct {
		name string
		fn   func(*testing.T, *harness)
	}{
		{"Info", testInfo},
		{"CreateLookup", testCreateLookup},
		{"WrongRP", testWrongRP},
		{"BitFlips", testBitFlips},
		{"MalformedIDs", testMalformedIDs},
		{"DiscoverableNewestFirst", testDiscoverableNewestFirst},
		{"All", testAll},
		{"ReplaceSameUser", testReplaceSameUser},
		{"Delete", testDelete},
		{"UpdateUser", testUpdateUser},
		{"Sign", testSign},
		{"Counters", testCounters},
		{"Blobs", testBlobs},
		{"Reset", testReset},
		{"Concurrent", testConcurrent},
		{"UnsupportedAlgorithm", testUnsupportedAlgorithm},
		{"ThirdPartyPayment", testThirdPartyPayment},
		{"ExtensionData", testExtensionData},
		{"CredRandom", testCredRandom},
		{"Indexes", testIndexes},
		{"Limits", testLimits},
		{"AlgorithmRoundTrip", testAlgorithmRoundTrip},
		{"NonDiscoverableEveryAlgorithm", testNonDiscoverableEveryAlgorithm},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := &harness{t: t, open: open, dir: t.TempDir()}
			h.ks = open(t, h.dir)
			t.Cleanup(func() {
				if h.ks != nil {
					h.ks.Close()
				}
			})
			tc.fn(t, h)
		})
	}
}

// harness holds the store under test and reopens it.
type harness struct {
	t    *testing.T
	open Opener
	dir  string
	ks   keystore.Keystore
}

// listings reads what Discoverable lists for rpID and what All lists, and
// returns a function that gives a discoverable credential's copy in each,
// failing the test when one leaves it out.
func (h *harness) listings(rpID, when string) func(c *keystore.Credential) []*keystore.Credential {
	h.t.Helper()
	listed, err := h.ks.Discoverable(rpHash(rpID))
	if err != nil {
		h.t.Fatalf("Discoverable: %v", err)
	}
	everything, err := h.ks.All()
	if err != nil {
		h.t.Fatalf("All: %v", err)
	}
	return func(c *keystore.Credential) []*keystore.Credential {
		h.t.Helper()
		var copies []*keystore.Credential
		for _, list := range [][]*keystore.Credential{listed, everything} {
			i := slices.IndexFunc(list, func(l *keystore.Credential) bool { return bytes.Equal(l.ID, c.ID) })
			if i < 0 {
				h.t.Fatalf("%s: credential %x not listed", when, c.ID)
			}
			copies = append(copies, list[i])
		}
		return copies
	}
}

// reopen closes the store and opens the same directory again.
func (h *harness) reopen() {
	h.t.Helper()
	if err := h.ks.Close(); err != nil {
		h.t.Fatalf("Close: %v", err)
	}
	h.ks = nil
	h.ks = h.open(h.t, h.dir)
}

// create makes a credential and checks what Create returned.
func (h *harness) create(req keystore.CreateRequest) *keystore.Credential {
	h.t.Helper()
	c, err := h.ks.Create(req)
	if err != nil {
		h.t.Fatalf("Create(%s): %v", describe(req), err)
	}
	checkCreated(h.t, h.ks, req, c)
	return c
}

// lookup finds a credential that must exist.
func (h *harness) lookup(rpIDHash [32]byte, id []byte) *keystore.Credential {
	h.t.Helper()
	c, err := h.ks.Lookup(rpIDHash, id)
	if err != nil {
		h.t.Fatalf("Lookup(%x): %v", id, err)
	}
	return c
}

// notFound checks that a lookup fails with ErrNotFound.
func (h *harness) notFound(rpIDHash [32]byte, id []byte, what string) {
	h.t.Helper()
	c, err := h.ks.Lookup(rpIDHash, id)
	if !errors.Is(err, keystore.ErrNotFound) {
		h.t.Errorf("Lookup of %s = %v, %v; want ErrNotFound", what, c, err)
	}
}

// counter takes the next signature counter, which must succeed.
func (h *harness) counter(c *keystore.Credential) uint32 {
	h.t.Helper()
	n, err := h.ks.NextCounter(c)
	if err != nil {
		h.t.Fatalf("NextCounter: %v", err)
	}
	return n
}

// ids lists the IDs of credentials.
func ids(cs []*keystore.Credential) [][]byte {
	out := make([][]byte, len(cs))
	for i, c := range cs {
		out[i] = c.ID
	}
	return out
}

func sameIDs(got, want [][]byte) bool {
	return slices.EqualFunc(got, want, bytes.Equal)
}

// rpHash is the rpIdHash of an RP ID.
func rpHash(rpID string) [32]byte { return sha256.Sum256([]byte(rpID)) }

// request describes a credential to create.
func request(alg int, discoverable bool, rpID string, userID string) keystore.CreateRequest {
	return keystore.CreateRequest{
		RPID:         rpID,
		RPIDHash:     rpHash(rpID),
		User:         keystore.User{ID: []byte(userID), Name: userID + "@" + rpID, DisplayName: "User " + userID},
		Algorithm:    alg,
		Discoverable: discoverable,
		CredProtect:  2,
	}
}

func describe(req keystore.CreateRequest) string {
	kind := "non-discoverable"
	if req.Discoverable {
		kind = "discoverable"
	}
	return fmt.Sprintf("%s alg %d for %s", kind, req.Algorithm, req.RPID)
}

// kinds are the two kinds of credential, for table-driven loops.
var kinds = []struct {
	name         string
	discoverable bool
}{{"nondiscoverable", false}, {"discoverable", true}}

// checkCreated checks a credential that Create returned against its request.
func checkCreated(t *testing.T, ks keystore.Keystore, req keystore.CreateRequest, c *keystore.Credential) {
	t.Helper()
	if len(c.ID) == 0 || len(c.ID) > ks.MaxCredentialIDLength() {
		t.Errorf("%s: ID length %d, want 1..MaxCredentialIDLength (%d)", describe(req), len(c.ID), ks.MaxCredentialIDLength())
	}
	if c.RPIDHash != req.RPIDHash || c.Algorithm != req.Algorithm || c.Discoverable != req.Discoverable ||
		c.CredProtect != req.CredProtect {
		t.Errorf("%s: Create = %+v, does not match the request", describe(req), c)
	}
	if c.Created.IsZero() {
		t.Errorf("%s: Created is zero", describe(req))
	}
	if len(c.KeyHandle) == 0 {
		t.Errorf("%s: KeyHandle is empty", describe(req))
	}
	checkPublicKey(t, req.Algorithm, c.PublicKey)
	if req.Discoverable {
		if c.RPID != req.RPID || !sameUser(c.User, req.User) {
			t.Errorf("%s: RP %q user %+v, want %q %+v", describe(req), c.RPID, c.User, req.RPID, req.User)
		}
	} else if c.RPID != "" || !sameUser(c.User, keystore.User{}) {
		t.Errorf("%s: RP %q user %+v, want none", describe(req), c.RPID, c.User)
	}
}

func sameUser(a, b keystore.User) bool {
	return bytes.Equal(a.ID, b.ID) && a.Name == b.Name && a.DisplayName == b.DisplayName
}

// checkPublicKey checks that a public key has the algorithm's type (and
// curve, or RSA size), as a relying party would parse it.
func checkPublicKey(t *testing.T, alg int, pub any) {
	t.Helper()
	if _, err := cose.FromPublicKey(pub, alg); err != nil {
		t.Errorf("%s public key %T: %v", keystore.AlgorithmName(alg), pub, err)
	}
}

// checkFound checks a credential that Lookup returned against the one
// Create returned. A non-discoverable credential may come back without its
// public key, since its ID need not carry it.
func checkFound(t *testing.T, got, want *keystore.Credential) {
	t.Helper()
	if !bytes.Equal(got.ID, want.ID) || got.RPIDHash != want.RPIDHash || got.Algorithm != want.Algorithm ||
		got.Discoverable != want.Discoverable || got.CredProtect != want.CredProtect ||
		!got.Created.Equal(want.Created) || got.RPID != want.RPID || !sameUser(got.User, want.User) {
		t.Errorf("Lookup = %+v, want %+v", got, want)
	}
	if got.PublicKey == nil && want.Discoverable {
		t.Errorf("Lookup of a discoverable credential has no public key")
	}
	if got.PublicKey != nil {
		if !cose.Equal(got.PublicKey, want.PublicKey) {
			t.Errorf("Lookup public key %v, want %v", got.PublicKey, want.PublicKey)
		}
	}
}

// verify checks a signature as a relying party would.
func verify(alg int, pub any, msg, sig []byte) bool { return cose.Verify(alg, pub, msg, sig) == nil }

// signVerify signs msg with c and checks the signature with pub.
func (h *harness) signVerify(c *keystore.Credential, pub any, msg []byte) {
	h.t.Helper()
	sig, err := h.ks.Sign(c, msg)
	if err != nil {
		h.t.Fatalf("Sign: %v", err)
	}
	if !verify(c.Algorithm, pub, msg, sig) {
		h.t.Errorf("alg %d: signature over %d bytes does not verify", c.Algorithm, len(msg))
	}
	if verify(c.Algorithm, pub, append(slices.Clone(msg), 0), sig) {
		h.t.Errorf("alg %d: signature verifies for another message", c.Algorithm)
	}
}

func testInfo(t *testing.T, h *harness) {
	if h.ks.Backend() == "" {
		t.Error("Backend() is empty")
	}
	algs := h.ks.Algorithms()
	if len(algs) == 0 {
		t.Fatal("Algorithms() is empty")
	}
	for _, alg := range algs {
		checkPublicKey(t, alg, h.create(request(alg, false, "info.example", "u")).PublicKey)
	}
	if h.ks.MaxCredentialIDLength() <= 0 {
		t.Errorf("MaxCredentialIDLength() = %d", h.ks.MaxCredentialIDLength())
	}
}

func testCreateLookup(t *testing.T, h *harness) {
	var creds []*keystore.Credential
	seen := map[string]bool{}
	for _, alg := range h.ks.Algorithms() {
		for _, k := range kinds {
			c := h.create(request(alg, k.discoverable, "create.example", fmt.Sprintf("user-%d-%s", alg, k.name)))
			if seen[string(c.ID)] {
				t.Errorf("credential ID %x issued twice", c.ID)
			}
			seen[string(c.ID)] = true
			creds = append(creds, c)
		}
	}
	check := func(when string) {
		for _, want := range creds {
			got := h.lookup(want.RPIDHash, want.ID)
			checkFound(t, got, want)
			h.signVerify(got, want.PublicKey, []byte("authenticatorData || clientDataHash "+when))
		}
	}
	check("before reopening")
	h.reopen()
	check("after reopening")
}

func testWrongRP(t *testing.T, h *harness) {
	for _, alg := range h.ks.Algorithms() {
		for _, k := range kinds {
			c := h.create(request(alg, k.discoverable, "right.example", "u"))
			h.notFound(rpHash("wrong.example"), c.ID, fmt.Sprintf("a %s alg %d ID with another rpIdHash", k.name, alg))
			h.notFound([32]byte{}, c.ID, fmt.Sprintf("a %s alg %d ID with a zero rpIdHash", k.name, alg))
		}
	}
}

func testBitFlips(t *testing.T, h *harness) {
	for _, alg := range h.ks.Algorithms() {
		for _, k := range kinds {
			c := h.create(request(alg, k.discoverable, "flip.example", "u"))
			for bit := range len(c.ID) * 8 {
				id := slices.Clone(c.ID)
				id[bit/8] ^= 1 << (bit % 8)
				if _, err := h.ks.Lookup(c.RPIDHash, id); !errors.Is(err, keystore.ErrNotFound) {
					t.Errorf("%s alg %d: Lookup with bit %d flipped: %v, want ErrNotFound", k.name, alg, bit, err)
				}
			}
			h.lookup(c.RPIDHash, c.ID) // the original still works
		}
	}
}

func testMalformedIDs(t *testing.T, h *harness) {
	rp := rpHash("malformed.example")
	var valid [][]byte
	for _, alg := range h.ks.Algorithms() {
		for _, k := range kinds {
			valid = append(valid, h.create(request(alg, k.discoverable, "malformed.example", "u"+k.name)).ID)
		}
	}
	random := func(n int) []byte {
		b := make([]byte, n)
		rand.Read(b)
		return b
	}
	tests := []struct {
		name string
		id   []byte
	}{
		{"nil", nil},
		{"empty", []byte{}},
		{"huge zero", make([]byte, 1<<20)},
		{"huge random", random(1 << 16)},
		{"one past the maximum", random(h.ks.MaxCredentialIDLength() + 1)},
		{"random of the maximum length", random(h.ks.MaxCredentialIDLength())},
	}
	for b := range 256 {
		tests = append(tests, struct {
			name string
			id   []byte
		}{fmt.Sprintf("single byte %#02x", b), []byte{byte(b)}})
	}
	for i, id := range valid {
		for n := range len(id) {
			tests = append(tests, struct {
				name string
				id   []byte
			}{fmt.Sprintf("ID %d truncated to %d bytes", i, n), slices.Clone(id[:n])})
		}
		tests = append(tests, struct {
			name string
			id   []byte
		}{fmt.Sprintf("ID %d with a byte appended", i), append(slices.Clone(id), 0)})
		tests = append(tests, struct {
			name string
			id   []byte
		}{fmt.Sprintf("ID %d with its type byte and random rest", i), append([]byte{id[0]}, random(len(id)-1)...)})
	}
	for _, tc := range tests {
		h.notFound(rp, tc.id, tc.name)
	}
}

func testDiscoverableNewestFirst(t *testing.T, h *harness) {
	algs := h.ks.Algorithms()
	var a []*keystore.Credential
	for i := range 4 {
		a = append(a, h.create(request(algs[i%len(algs)], true, "a.example", fmt.Sprintf("user%d", i))))
	}
	b := h.create(request(algs[0], true, "b.example", "user0"))
	h.create(request(algs[0], false, "a.example", "nd"))
	wantA := ids([]*keystore.Credential{a[3], a[2], a[1], a[0]})
	check := func(when string) {
		got, err := h.ks.Discoverable(rpHash("a.example"))
		if err != nil {
			t.Fatalf("Discoverable: %v", err)
		}
		if !sameIDs(ids(got), wantA) {
			t.Errorf("%s: Discoverable(a) = %x, want newest first %x", when, ids(got), wantA)
		}
		for i, c := range got {
			checkFound(t, c, a[len(a)-1-i])
		}
		got, err = h.ks.Discoverable(rpHash("b.example"))
		if err != nil || !sameIDs(ids(got), [][]byte{b.ID}) {
			t.Errorf("%s: Discoverable(b) = %x, %v; want %x", when, ids(got), err, b.ID)
		}
		got, err = h.ks.Discoverable(rpHash("none.example"))
		if err != nil || len(got) != 0 {
			t.Errorf("%s: Discoverable(none) = %x, %v; want nothing", when, ids(got), err)
		}
	}
	check("before reopening")
	h.reopen()
	check("after reopening")
}

func testAll(t *testing.T, h *harness) {
	got, err := h.ks.All()
	if err != nil || len(got) != 0 {
		t.Fatalf("All() of an empty store = %x, %v", ids(got), err)
	}
	alg := h.ks.Algorithms()[0]
	var want []*keystore.Credential
	for i, rp := range []string{"a.example", "b.example", "a.example", "c.example"} {
		want = append([]*keystore.Credential{h.create(request(alg, true, rp, fmt.Sprint(i)))}, want...)
		h.create(request(alg, false, rp, "nd"))
	}
	check := func(when string) {
		got, err := h.ks.All()
		if err != nil {
			t.Fatalf("All: %v", err)
		}
		if !sameIDs(ids(got), ids(want)) {
			t.Errorf("%s: All() = %x, want newest first %x", when, ids(got), ids(want))
		}
		for i := range min(len(got), len(want)) {
			checkFound(t, got[i], want[i])
		}
	}
	check("before reopening")
	h.reopen()
	check("after reopening")
}

func testReplaceSameUser(t *testing.T, h *harness) {
	alg := h.ks.Algorithms()[0]
	old := h.create(request(alg, true, "a.example", "alice"))
	h.counter(old)
	other := h.create(request(alg, true, "b.example", "alice"))
	bob := h.create(request(alg, true, "a.example", "bob"))
	h.create(request(alg, false, "a.example", "alice")) // non-discoverable: replaces nothing
	req := request(alg, true, "a.example", "alice")
	req.User.Name, req.User.DisplayName = "alice.new@a.example", "Alice New"
	repl := h.create(req)
	check := func(when string) {
		h.notFound(old.RPIDHash, old.ID, when+": the replaced credential")
		if _, err := h.ks.NextCounter(old); !errors.Is(err, keystore.ErrNotFound) {
			t.Errorf("%s: NextCounter of the replaced credential: %v, want ErrNotFound", when, err)
		}
		got, err := h.ks.Discoverable(rpHash("a.example"))
		if err != nil || !sameIDs(ids(got), [][]byte{repl.ID, bob.ID}) {
			t.Errorf("%s: Discoverable(a) = %x, %v; want %x", when, ids(got), err, [][]byte{repl.ID, bob.ID})
		}
		checkFound(t, h.lookup(repl.RPIDHash, repl.ID), repl)
		checkFound(t, h.lookup(other.RPIDHash, other.ID), other) // same user ID, other RP
	}
	check("before reopening")
	h.reopen()
	check("after reopening")
	if n := h.counter(repl); n == 0 {
		t.Errorf("counter of the new credential = 0")
	}
}

func testDelete(t *testing.T, h *harness) {
	alg := h.ks.Algorithms()[0]
	d1 := h.create(request(alg, true, "a.example", "one"))
	d2 := h.create(request(alg, true, "a.example", "two"))
	nd := h.create(request(alg, false, "a.example", "nd"))
	for range 3 {
		h.counter(d1)
	}
	last2 := h.counter(d2)
	if err := h.ks.Delete(d1.ID); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	check := func(when string) {
		h.notFound(d1.RPIDHash, d1.ID, when+": a deleted credential")
		if _, err := h.ks.NextCounter(d1); !errors.Is(err, keystore.ErrNotFound) {
			t.Errorf("%s: NextCounter of a deleted credential: %v, want ErrNotFound", when, err)
		}
		if err := h.ks.Delete(d1.ID); !errors.Is(err, keystore.ErrNotFound) {
			t.Errorf("%s: Delete twice: %v, want ErrNotFound", when, err)
		}
		got, err := h.ks.Discoverable(d1.RPIDHash)
		if err != nil || !sameIDs(ids(got), [][]byte{d2.ID}) {
			t.Errorf("%s: Discoverable = %x, %v; want %x", when, ids(got), err, d2.ID)
		}
		all, err := h.ks.All()
		if err != nil || !sameIDs(ids(all), [][]byte{d2.ID}) {
			t.Errorf("%s: All = %x, %v; want %x", when, ids(all), err, d2.ID)
		}
		if n := h.counter(d2); n <= last2 {
			t.Errorf("%s: counter of the remaining credential went from %d to %d", when, last2, n)
		} else {
			last2 = n
		}
	}
	check("before reopening")
	h.reopen()
	check("after reopening")
	if err := h.ks.Delete(make([]byte, len(d1.ID))); !errors.Is(err, keystore.ErrNotFound) {
		t.Errorf("Delete of an unknown ID: %v, want ErrNotFound", err)
	}
	if err := h.ks.Delete(nil); !errors.Is(err, keystore.ErrNotFound) {
		t.Errorf("Delete(nil): %v, want ErrNotFound", err)
	}
	// The last credential of an RP can go too, and a new one can come.
	if err := h.ks.Delete(d2.ID); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if got, err := h.ks.Discoverable(d2.RPIDHash); err != nil || len(got) != 0 {
		t.Errorf("Discoverable after deleting all = %x, %v", ids(got), err)
	}
	d3 := h.create(request(alg, true, "a.example", "three"))
	if got, err := h.ks.Discoverable(d3.RPIDHash); err != nil || !sameIDs(ids(got), [][]byte{d3.ID}) {
		t.Errorf("Discoverable = %x, %v; want %x", ids(got), err, d3.ID)
	}
	h.lookup(nd.RPIDHash, nd.ID)
}

func testUpdateUser(t *testing.T, h *harness) {
	alg := h.ks.Algorithms()[0]
	c := h.create(request(alg, true, "a.example", "carol"))
	nd := h.create(request(alg, false, "a.example", "carol"))
	updated := keystore.User{ID: []byte("carol"), Name: "carol.renamed@a.example", DisplayName: "Carol Renamed"}
	if err := h.ks.UpdateUser(c.ID, updated); err != nil {
		t.Fatalf("UpdateUser: %v", err)
	}
	tests := []struct {
		name string
		id   []byte
		user keystore.User
		want error // nil: any error
	}{
		{"another user ID", c.ID, keystore.User{ID: []byte("mallory"), Name: "m", DisplayName: "M"}, nil},
		{"an unknown credential", make([]byte, len(c.ID)), updated, keystore.ErrNotFound},
		{"a non-discoverable credential", nd.ID, updated, keystore.ErrNotFound},
	}
	for _, tc := range tests {
		err := h.ks.UpdateUser(tc.id, tc.user)
		if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) {
			t.Errorf("UpdateUser of %s: %v, want %v", tc.name, err, tc.want)
		}
	}
	want := *c
	want.User = updated
	check := func(when string) {
		checkFound(t, h.lookup(c.RPIDHash, c.ID), &want)
		got, err := h.ks.Discoverable(c.RPIDHash)
		if err != nil || len(got) != 1 || !sameUser(got[0].User, updated) {
			t.Errorf("%s: Discoverable = %+v, %v; want user %+v", when, got, err, updated)
		}
	}
	check("before reopening")
	h.reopen()
	check("after reopening")
	h.signVerify(h.lookup(c.RPIDHash, c.ID), c.PublicKey, []byte("still signs"))
}

func testSign(t *testing.T, h *harness) {
	msgs := [][]byte{{}, {0}, bytes.Repeat([]byte{0xa5}, 37+32), bytes.Repeat([]byte("m"), 4096)}
	var discoverable []*keystore.Credential
	for _, alg := range h.ks.Algorithms() {
		for _, k := range kinds {
			c := h.create(request(alg, k.discoverable, "sign.example", "u"+fmt.Sprint(alg)))
			for _, msg := range msgs {
				h.signVerify(c, c.PublicKey, msg)
				h.signVerify(h.lookup(c.RPIDHash, c.ID), c.PublicKey, msg)
			}
			tampered := []struct {
				name   string
				change func(c *keystore.Credential)
			}{
				{"another rpIdHash", func(c *keystore.Credential) { c.RPIDHash = rpHash("other.example") }},
				{"a flipped key handle", func(c *keystore.Credential) { c.KeyHandle[len(c.KeyHandle)/2] ^= 1 }},
				{"an empty key handle", func(c *keystore.Credential) { c.KeyHandle = nil }},
			}
			for _, tc := range tampered {
				bad := *c
				bad.KeyHandle = slices.Clone(c.KeyHandle)
				tc.change(&bad)
				if sig, err := h.ks.Sign(&bad, msgs[1]); err == nil {
					t.Errorf("%s alg %d: Sign with %s = %x, want an error", k.name, alg, tc.name, sig)
				}
			}
			if k.discoverable {
				discoverable = append(discoverable, c)
			}
		}
	}
	// A key handle signs only for its own credential ID.
	if len(discoverable) > 1 {
		swapped := *discoverable[0]
		swapped.ID = discoverable[1].ID
		if _, err := h.ks.Sign(&swapped, msgs[1]); err == nil {
			t.Errorf("Sign with another credential's key handle succeeded")
		}
	}
}

func testCounters(t *testing.T, h *harness) {
	alg := h.ks.Algorithms()[0]
	var creds []*keystore.Credential
	for _, k := range kinds {
		creds = append(creds, h.create(request(alg, k.discoverable, "count.example", "u")))
	}
	last := make([]uint32, len(creds))
	for round := range 3 {
		for i, c := range creds {
			found := h.lookup(c.RPIDHash, c.ID)
			for range 600 { // more than one reservation block of a typical size
				n := h.counter(found)
				if n <= last[i] {
					t.Fatalf("round %d, %s: counter went from %d to %d", round, kinds[i].name, last[i], n)
				}
				last[i] = n
			}
		}
		h.reopen()
	}
}

func testBlobs(t *testing.T, h *harness) {
	if _, err := h.ks.GetBlob("missing"); !errors.Is(err, keystore.ErrNotFound) {
		t.Errorf("GetBlob of a missing blob: %v, want ErrNotFound", err)
	}
	blobs := map[string][]byte{
		"empty":          {},
		"pin":            []byte("pin state"),
		"attestation/ca": bytes.Repeat([]byte{1, 2, 3}, 1000),
		"large":          make([]byte, 1<<17),
	}
	rand.Read(blobs["large"])
	for name, data := range blobs {
		if err := h.ks.PutBlob(name, data); err != nil {
			t.Fatalf("PutBlob(%q): %v", name, err)
		}
	}
	blobs["pin"] = []byte("pin state, overwritten")
	if err := h.ks.PutBlob("pin", blobs["pin"]); err != nil {
		t.Fatalf("PutBlob: %v", err)
	}
	check := func(when string) {
		for name, want := range blobs {
			got, err := h.ks.GetBlob(name)
			if err != nil || !bytes.Equal(got, want) {
				t.Errorf("%s: GetBlob(%q) = %d bytes, %v; want %d bytes", when, name, len(got), err, len(want))
			}
		}
	}
	check("before reopening")
	h.reopen()
	check("after reopening")
}

func testReset(t *testing.T, h *harness) {
	var old []*keystore.Credential
	for _, alg := range h.ks.Algorithms() {
		for _, k := range kinds {
			c := h.create(request(alg, k.discoverable, "reset.example", "u"+fmt.Sprint(alg)))
			h.counter(c)
			// Signed with once, so that a store's caches hold it.
			h.signVerify(h.lookup(c.RPIDHash, c.ID), c.PublicKey, []byte("before reset"))
			old = append(old, c)
		}
	}
	if err := h.ks.PutBlob("pin", []byte("secret")); err != nil {
		t.Fatalf("PutBlob: %v", err)
	}
	if err := h.ks.Reset(); err != nil {
		t.Fatalf("Reset: %v", err)
	}
	fresh := h.create(request(h.ks.Algorithms()[0], true, "reset.example", "new"))
	check := func(when string) {
		for _, c := range old {
			h.notFound(c.RPIDHash, c.ID, fmt.Sprintf("%s: a credential from before Reset (discoverable %v)", when, c.Discoverable))
			if _, err := h.ks.NextCounter(c); !errors.Is(err, keystore.ErrNotFound) {
				t.Errorf("%s: NextCounter of a credential from before Reset: %v, want ErrNotFound", when, err)
			}
			if _, err := h.ks.Sign(c, []byte("x")); err == nil {
				t.Errorf("%s: Sign with a credential from before Reset succeeded", when)
			}
		}
		if _, err := h.ks.GetBlob("pin"); !errors.Is(err, keystore.ErrNotFound) {
			t.Errorf("%s: GetBlob after Reset: %v, want ErrNotFound", when, err)
		}
		all, err := h.ks.All()
		if err != nil || !sameIDs(ids(all), [][]byte{fresh.ID}) {
			t.Errorf("%s: All after Reset = %x, %v; want only %x", when, ids(all), err, fresh.ID)
		}
		h.signVerify(h.lookup(fresh.RPIDHash, fresh.ID), fresh.PublicKey, []byte("after reset"))
	}
	check("before reopening")
	h.reopen()
	check("after reopening")
}

func testConcurrent(t *testing.T, h *harness) {
	const workers, rounds = 6, 15
	algs := h.ks.Algorithms()
	shared := h.create(request(algs[0], true, "shared.example", "shared"))
	var (
		mu   sync.Mutex
		seen = map[uint32]bool{}
		wg   sync.WaitGroup
	)
	for w := range workers {
		wg.Go(func() {
			var own *keystore.Credential
			var ownLast uint32
			for r := range rounds {
				req := request(algs[(w+r)%len(algs)], (w+r)%2 == 0, "concurrent.example", fmt.Sprintf("w%d-r%d", w, r))
				c, err := h.ks.Create(req)
				if err != nil {
					t.Errorf("worker %d: Create: %v", w, err)
					return
				}
				found, err := h.ks.Lookup(c.RPIDHash, c.ID)
				if err != nil {
					t.Errorf("worker %d: Lookup: %v", w, err)
					return
				}
				msg := []byte(fmt.Sprintf("worker %d round %d", w, r))
				if sig, err := h.ks.Sign(found, msg); err != nil || !verify(c.Algorithm, c.PublicKey, msg, sig) {
					t.Errorf("worker %d: Sign: %v (or the signature does not verify)", w, err)
				}
				if own == nil {
					own = found
				}
				if n, err := h.ks.NextCounter(own); err != nil || n <= ownLast {
					t.Errorf("worker %d: own counter went from %d to %d (%v)", w, ownLast, n, err)
				} else {
					ownLast = n
				}
				n, err := h.ks.NextCounter(shared)
				if err != nil {
					t.Errorf("worker %d: shared NextCounter: %v", w, err)
				}
				mu.Lock()
				if seen[n] {
					t.Errorf("shared counter value %d handed out twice", n)
				}
				seen[n] = true
				mu.Unlock()
				name := fmt.Sprintf("blob-%d", w)
				if err := h.ks.PutBlob(name, msg); err != nil {
					t.Errorf("worker %d: PutBlob: %v", w, err)
				}
				if got, err := h.ks.GetBlob(name); err != nil || !bytes.Equal(got, msg) {
					t.Errorf("worker %d: GetBlob = %q, %v; want %q", w, got, err, msg)
				}
				if _, err := h.ks.Discoverable(c.RPIDHash); err != nil {
					t.Errorf("worker %d: Discoverable: %v", w, err)
				}
				if c.Discoverable && r > 0 && r%3 == 0 {
					if err := h.ks.Delete(c.ID); err != nil {
						t.Errorf("worker %d: Delete: %v", w, err)
					}
				}
			}
		})
	}
	wg.Wait()
	if len(seen) != workers*rounds {
		t.Errorf("shared counter handed out %d distinct values, want %d", len(seen), workers*rounds)
	}
}

func testUnsupportedAlgorithm(t *testing.T, h *harness) {
	// COSE: RS256, PS256, ES384, ES512, ES256K, RS1, and values that name no
	// signature algorithm.
	candidates := []int{-257, -37, -35, -36, -47, -65535, 0, 1, 3}
	for _, alg := range candidates {
		if slices.Contains(h.ks.Algorithms(), alg) {
			continue
		}
		for _, k := range kinds {
			if c, err := h.ks.Create(request(alg, k.discoverable, "alg.example", "u")); !errors.Is(err, keystore.ErrUnsupportedAlgorithm) {
				t.Errorf("Create %s with algorithm %d = %v, %v; want ErrUnsupportedAlgorithm", k.name, alg, c, err)
			}
		}
	}
	if all, err := h.ks.All(); err != nil || len(all) != 0 {
		t.Errorf("All after failed creates = %x, %v; want nothing", ids(all), err)
	}
}
