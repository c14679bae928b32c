package soft

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/sha256"
	"slices"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/vauth/vauth/keystore"
)

// TestUpgradeRecordsV1 opens a store whose records are of format recordV1,
// as vauth wrote them before credBlob and largeBlobKey: the store is
// upgraded to the current format version, every record is rewritten as
// recordV3, and the credentials still sign.
func TestUpgradeRecordsV1(t *testing.T) {
	for _, from := range []byte{1, 2} {
		dir := t.TempDir()
		s := mustOpen(t, dir, Options{})
		creds := []*keystore.Credential{createCred(t, s, true, "a"), createCred(t, s, true, "b")}
		mustClose(t, s)
		editDB(t, dir, func(tx *bolt.Tx) error {
			for _, c := range creds {
				v3 := tx.Bucket(bucketCreds).Get(c.ID)
				// A recordV3 without credBlob, largeBlobKey and flags is
				// recordV1 with two empty length prefixes and a zero flags
				// byte appended.
				if !bytes.HasSuffix(v3, []byte{0, 0, 0}) || v3[0] != recordV3 {
					t.Fatalf("record %x does not end with two empty fields and no flags", v3)
				}
				v1 := append([]byte{recordV1}, v3[1:len(v3)-3]...)
				if err := tx.Bucket(bucketCreds).Put(c.ID, v1); err != nil {
					return err
				}
			}
			return tx.Bucket(bucketMeta).Put(keyVersion, []byte{from})
		})
		s = mustOpen(t, dir, Options{})
		err := s.db.View(func(tx *bolt.Tx) error {
			if v := tx.Bucket(bucketMeta).Get(keyVersion); !bytes.Equal(v, []byte{formatVersion}) {
				t.Errorf("from %d: format version %v after the upgrade, want %d", from, v, formatVersion)
			}
			for _, c := range creds {
				if v := tx.Bucket(bucketCreds).Get(c.ID); len(v) == 0 || v[0] != recordV3 {
					t.Errorf("from %d: record %x not rewritten as recordV3", from, c.ID)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range creds {
			got, err := s.Lookup(c.RPIDHash, c.ID)
			if err != nil {
				t.Fatalf("from %d: Lookup: %v", from, err)
			}
			if got.CredBlob != nil || got.LargeBlobKey != nil || !bytes.Equal(got.User.ID, c.User.ID) {
				t.Errorf("from %d: upgraded credential %+v", from, got)
			}
			if _, err := s.Sign(got, []byte("m")); err != nil {
				t.Errorf("from %d: Sign: %v", from, err)
			}
		}
		if n, err := s.CountDiscoverable(); err != nil || n != len(creds) {
			t.Errorf("from %d: CountDiscoverable = %d, %v; want %d", from, n, err, len(creds))
		}
		mustClose(t, s)
	}
}

// TestNonDiscoverableV1IDs: credential IDs issued before credBlob (kind
// idNonDiscoverableV1) still look up, sign, count and give a CredRandom.
func TestNonDiscoverableV1IDs(t *testing.T) {
	s := mustOpen(t, t.TempDir(), Options{})
	pub, blob, err := s.engine.Generate(keystore.ES256)
	if err != nil {
		t.Fatal(err)
	}
	created := time.Now().UnixNano()
	plain := appendAlg(nil, keystore.ES256)
	plain = append(plain, 2) // credProtect
	plain = append(plain, byte(created>>56), byte(created>>48), byte(created>>40), byte(created>>32),
		byte(created>>24), byte(created>>16), byte(created>>8), byte(created))
	plain = append(plain, blob...)
	id, err := seal(s.keys.credentialID, s.rand, plain, sealAD(idNonDiscoverableV1, testRP[:]))
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.Lookup(testRP, id)
	if err != nil {
		t.Fatalf("Lookup of a version 1 ID: %v", err)
	}
	if c.CredProtect != 2 || c.CredBlob != nil || c.Created.UnixNano() != created || c.Algorithm != keystore.ES256 {
		t.Errorf("version 1 ID read as %+v", c)
	}
	sig, err := s.Sign(c, []byte("m"))
	if err != nil {
		t.Fatal(err)
	}
	digest := sha256.Sum256([]byte("m"))
	if !ecdsa.VerifyASN1(pub.(*ecdsa.PublicKey), digest[:], sig) {
		t.Error("signature with a version 1 ID does not verify")
	}
	if n, err := s.NextCounter(c); err != nil || n == 0 {
		t.Errorf("NextCounter = %d, %v", n, err)
	}
	if r, err := s.CredRandom(c, false); err != nil || len(r) != keystore.CredRandomLength {
		t.Errorf("CredRandom = %x, %v", r, err)
	}
}

// TestParseNDPayload covers the length checks of the version 2 payload.
func TestParseNDPayload(t *testing.T) {
	fixed := make([]byte, ndPayloadFixed)
	for _, tc := range []struct {
		name     string
		payload  []byte
		ok       bool
		credBlob []byte
		blob     []byte
	}{
		{"no credBlob", slices.Concat(fixed, []byte{0, 7, 8}), true, nil, []byte{7, 8}},
		{"a credBlob", slices.Concat(fixed, []byte{2, 5, 6, 7}), true, []byte{5, 6}, []byte{7}},
		{"the longest credBlob", slices.Concat(fixed, []byte{keystore.MaxCredBlobLength}, make([]byte, keystore.MaxCredBlobLength)), true, make([]byte, keystore.MaxCredBlobLength), []byte{}},
		{"credBlob too long", slices.Concat(fixed, []byte{keystore.MaxCredBlobLength + 1}, make([]byte, 40)), false, nil, nil},
		{"credBlob truncated", slices.Concat(fixed, []byte{3, 5, 6}), false, nil, nil},
		{"no length byte", fixed, false, nil, nil},
		{"short", fixed[:5], false, nil, nil},
	} {
		p, ok := parseNDPayload(idNonDiscoverableV2, tc.payload)
		if ok != tc.ok || (ok && (!bytes.Equal(p.credBlob, tc.credBlob) || !bytes.Equal(p.blob, tc.blob))) {
			t.Errorf("%s: parseNDPayload = %+v, %v", tc.name, p, ok)
		}
	}
}

// TestCreateValidatesExtensionData: a credBlob too long, a largeBlobKey of
// the wrong length, or one for a non-discoverable credential are refused.
func TestCreateValidatesExtensionData(t *testing.T) {
	s := mustOpen(t, t.TempDir(), Options{})
	base := keystore.CreateRequest{RPID: "example.com", RPIDHash: sha256.Sum256([]byte("example.com")),
		User: keystore.User{ID: []byte("u")}, Algorithm: keystore.ES256, Discoverable: true}
	for _, tc := range []struct {
		name string
		edit func(r *keystore.CreateRequest)
	}{
		{"credBlob too long", func(r *keystore.CreateRequest) { r.CredBlob = make([]byte, keystore.MaxCredBlobLength+1) }},
		{"largeBlobKey too short", func(r *keystore.CreateRequest) { r.LargeBlobKey = make([]byte, 16) }},
		{"largeBlobKey non-discoverable", func(r *keystore.CreateRequest) {
			r.LargeBlobKey, r.Discoverable = make([]byte, keystore.LargeBlobKeyLength), false
		}},
	} {
		req := base
		tc.edit(&req)
		if c, err := s.Create(req); err == nil {
			t.Errorf("%s: Create = %+v, want an error", tc.name, c)
		}
	}
	if all, err := s.All(); err != nil || len(all) != 0 {
		t.Errorf("All after refused creates = %d credentials, %v", len(all), err)
	}
}
