package soft

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"strings"
	"testing"

	"github.com/vauth/vauth/keystore"
)

// FuzzLookup feeds Lookup credential IDs as an RP would send them: it must
// find the credentials it made, under their own IDs, and nothing else.
func FuzzLookup(f *testing.F) {
	s, err := Open(f.TempDir(), Options{})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { s.Close() })
	known := map[string]bool{}
	for _, alg := range s.Algorithms() {
		for _, discoverable := range []bool{false, true} {
			c, err := s.Create(keystore.CreateRequest{
				RPID: "example.com", RPIDHash: testRP, User: keystore.User{ID: []byte{byte(alg)}},
				Algorithm: alg, Discoverable: discoverable,
			})
			if err != nil {
				f.Fatal(err)
			}
			known[string(c.ID)] = true
			f.Add(c.ID)
		}
	}
	// The loop made the stored RSA IDs (idNonDiscoverableStoredV1); add a
	// sealed RSA ID, as vauth made them before.
	_, blob, err := s.engine.Generate(keystore.RS256)
	if err != nil {
		f.Fatal(err)
	}
	sealed, err := s.sealID(&ndPayload{alg: keystore.RS256, blob: blob}, testRP)
	if err != nil {
		f.Fatal(err)
	}
	known[string(sealed)] = true
	f.Add(sealed)
	f.Add([]byte{})
	f.Add([]byte{idDiscoverableV1})
	f.Add([]byte{idNonDiscoverableStoredV1})
	f.Fuzz(func(t *testing.T, id []byte) {
		c, err := s.Lookup(testRP, id)
		switch {
		case known[string(id)]:
			if err != nil || !bytes.Equal(c.ID, id) {
				t.Fatalf("Lookup of a known ID = %v, %v", c, err)
			}
		case !errors.Is(err, keystore.ErrNotFound):
			t.Fatalf("Lookup(%x) = %v, %v; want ErrNotFound", id, c, err)
		}
	})
}

// FuzzCreate makes discoverable and non-discoverable credentials with every
// stored field of any length, the limits' neighbourhoods in the seeds.
// Create must refuse exactly the requests with a field out of its limits,
// with keystore.ErrInvalidLength, and store nothing for them; what it takes
// must come back whole from Lookup and All, and after UpdateUser.
func FuzzCreate(f *testing.F) {
	s, err := Open(f.TempDir(), Options{})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { s.Close() })
	repeat := func(n int, b byte) []byte { return bytes.Repeat([]byte{b}, n) }
	// A name whose last character straddles the 64-byte limit.
	straddling := strings.Repeat("n", keystore.MaxUserNameLength-1) + "é"
	for _, seed := range []struct {
		rpID                string
		userID              []byte
		name, displayName   string
		credBlob, largeBlob []byte
		discoverable        bool
	}{
		{"example.com", []byte("u"), "alice", "Alice", nil, nil, true},
		{"example.com", repeat(keystore.MaxUserIDLength, 0xab), straddling[:keystore.MaxUserNameLength-1], "Dave",
			repeat(keystore.MaxCredBlobLength, 1), repeat(keystore.LargeBlobKeyLength, 2), true},
		{strings.Repeat("r", 300), repeat(keystore.MaxUserIDLength, 0xab), strings.Repeat("n", keystore.MaxUserNameLength),
			strings.Repeat("d", keystore.MaxUserNameLength), repeat(keystore.MaxCredBlobLength, 1), repeat(keystore.LargeBlobKeyLength, 2), true},
		{"example.com", repeat(keystore.MaxUserIDLength+1, 0xab), "x", "x", nil, nil, true},
		{"example.com", []byte("u"), straddling, "x", nil, nil, true},
		{"example.com", []byte("u"), "x", "x", repeat(keystore.MaxCredBlobLength+1, 1), nil, false},
		{"example.com", []byte("u"), "x", "x", nil, repeat(keystore.LargeBlobKeyLength+1, 2), true},
		{"", nil, "", "", repeat(keystore.MaxCredBlobLength, 1), nil, false},
	} {
		f.Add(seed.rpID, seed.userID, seed.name, seed.displayName, seed.credBlob, seed.largeBlob, seed.discoverable)
	}
	f.Fuzz(func(t *testing.T, rpID string, userID []byte, name, displayName string, credBlob, largeBlobKey []byte, discoverable bool) {
		req := keystore.CreateRequest{
			RPID: rpID, RPIDHash: sha256.Sum256([]byte(rpID)), Algorithm: keystore.ES256, Discoverable: discoverable,
			User: keystore.User{ID: userID, Name: name, DisplayName: displayName}, CredBlob: credBlob, LargeBlobKey: largeBlobKey,
		}
		fits := len(credBlob) <= keystore.MaxCredBlobLength &&
			(len(largeBlobKey) == 0 || len(largeBlobKey) == keystore.LargeBlobKeyLength)
		if discoverable {
			fits = fits && len(rpID) >= 1 && len(rpID) <= keystore.MaxRPIDLength &&
				len(userID) >= 1 && len(userID) <= keystore.MaxUserIDLength &&
				len(name) <= keystore.MaxUserNameLength && len(displayName) <= keystore.MaxUserNameLength
		}
		before, err := s.All()
		if err != nil {
			t.Fatal(err)
		}
		c, err := s.Create(req)
		switch {
		case !discoverable && len(largeBlobKey) > 0:
			if err == nil {
				t.Fatal("a non-discoverable credential took a largeBlobKey")
			}
			return
		case !fits:
			if !errors.Is(err, keystore.ErrInvalidLength) {
				t.Fatalf("Create out of the limits: %v, want ErrInvalidLength", err)
			}
			if after, err := s.All(); err != nil || len(after) != len(before) {
				t.Fatalf("a refused Create changed the store: %d credentials, then %d (%v)", len(before), len(after), err)
			}
			return
		case err != nil:
			t.Fatalf("Create within the limits: %v", err)
		}
		got, err := s.Lookup(req.RPIDHash, c.ID)
		if err != nil {
			t.Fatalf("Lookup: %v", err)
		}
		if !bytes.Equal(got.CredBlob, credBlob) || !bytes.Equal(got.LargeBlobKey, largeBlobKey) {
			t.Fatalf("credBlob %x largeBlobKey %x came back as %x %x", credBlob, largeBlobKey, got.CredBlob, got.LargeBlobKey)
		}
		if !discoverable {
			return
		}
		if got.RPID != rpID || !bytes.Equal(got.User.ID, userID) || got.User.Name != name || got.User.DisplayName != displayName {
			t.Fatalf("Lookup = %q %+v, want %q %+v", got.RPID, got.User, rpID, req.User)
		}
		renamed := keystore.User{ID: userID, Name: displayName, DisplayName: name}
		if err := s.UpdateUser(c.ID, renamed); err != nil {
			t.Fatalf("UpdateUser within the limits: %v", err)
		}
		if got, err = s.Lookup(req.RPIDHash, c.ID); err != nil || got.User.Name != displayName || !bytes.Equal(got.CredBlob, credBlob) {
			t.Fatalf("after UpdateUser: %+v, %v", got, err)
		}
		if err := s.Delete(c.ID); err != nil { // keep the store small for the next input
			t.Fatalf("Delete: %v", err)
		}
	})
}
