package soft

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/vauth/vauth/internal/cose"
	"github.com/vauth/vauth/keystore"
)

// createStoredND makes an RS256 non-discoverable credential, whose key the
// store keeps, with every field an ndRecordV1 holds set.
func createStoredND(t *testing.T, s *Store) *keystore.Credential {
	t.Helper()
	c, err := s.Create(keystore.CreateRequest{RPIDHash: testRP, Algorithm: keystore.RS256, CredProtect: 3,
		CredBlob: []byte("blob"), ThirdPartyPayment: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.ID) != discoverableIDLen || c.ID[0] != idNonDiscoverableStoredV1 || c.Discoverable {
		t.Fatalf("RS256 non-discoverable credential ID %x (discoverable %v), want %d bytes of kind %#x",
			c.ID, c.Discoverable, discoverableIDLen, idNonDiscoverableStoredV1)
	}
	return c
}

// bucketKeys lists the keys of a bucket.
func bucketKeys(t *testing.T, s *Store, bucket []byte) [][]byte {
	t.Helper()
	var keys [][]byte
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucket).ForEach(func(k, _ []byte) error {
			keys = append(keys, slices.Clone(k))
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

// TestStoredNonDiscoverable: an RSA non-discoverable credential is one
// record in bucketND from Create on (nothing in the discoverable buckets,
// no counter until its first use), comes back whole from Lookup with its
// public key, is not deleted by Delete (ErrNotFound, as every
// non-discoverable credential), and Reset empties the bucket.
func TestStoredNonDiscoverable(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir, Options{})
	c := createStoredND(t, s)
	if got := bucketKeys(t, s, bucketND); !slices.EqualFunc(got, [][]byte{c.ID}, bytes.Equal) {
		t.Errorf("bucketND holds %x, want %x", got, c.ID)
	}
	for _, b := range [][]byte{bucketCreds, bucketRPs, bucketCounters, bucketUsage} {
		if got := bucketKeys(t, s, b); len(got) != 0 {
			t.Errorf("bucket %s holds %x after Create, want nothing", b, got)
		}
	}
	if err := s.Delete(c.ID); !errors.Is(err, keystore.ErrNotFound) {
		t.Errorf("Delete: %v, want ErrNotFound", err)
	}
	mustClose(t, s)
	s = mustOpen(t, dir, Options{})
	got, err := s.Lookup(testRP, c.ID)
	if err != nil {
		t.Fatalf("Lookup after reopening: %v", err)
	}
	if got.Algorithm != keystore.RS256 || got.CredProtect != 3 || !bytes.Equal(got.CredBlob, []byte("blob")) ||
		!got.ThirdPartyPayment || got.Discoverable || !got.Created.Equal(c.Created) || got.RPID != "" ||
		got.User.ID != nil || got.LargeBlobKey != nil || !cose.Equal(got.PublicKey, c.PublicKey) {
		t.Errorf("Lookup = %+v, want %+v", got, c)
	}
	for want := uint32(1); want <= 2; want++ {
		if n, err := s.NextCounter(got); err != nil || n != want {
			t.Errorf("NextCounter = %d, %v; want %d", n, err, want)
		}
	}
	if n, _, err := s.Usage(c.ID); err != nil || n != 2 {
		t.Errorf("Usage = %d, %v; want 2", n, err)
	}
	if err := s.Reset(); err != nil {
		t.Fatal(err)
	}
	if got := bucketKeys(t, s, bucketND); len(got) != 0 {
		t.Errorf("bucketND holds %x after Reset", got)
	}
	if _, _, err := s.Usage(c.ID); !errors.Is(err, keystore.ErrNotFound) {
		t.Errorf("Usage after Reset: %v, want ErrNotFound", err)
	}
}

// TestStoredNonDiscoverableBinding: the sealed key handle of a stored
// record opens only under its own ID and rpIdHash, so a record copied to
// another ID or edited to name another RP does not sign; unknown IDs of
// the kind are not found.
func TestStoredNonDiscoverableBinding(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir, Options{})
	c := createStoredND(t, s)
	mustClose(t, s)
	other := sha256.Sum256([]byte("other.example"))
	copied := append([]byte{idNonDiscoverableStoredV1}, bytes.Repeat([]byte{7}, discoverableRandLen)...)
	editDB(t, dir, func(tx *bolt.Tx) error {
		nd := tx.Bucket(bucketND)
		val := bytes.Clone(nd.Get(c.ID))
		if err := nd.Put(copied, val); err != nil {
			return err
		}
		moved := bytes.Clone(val)
		copy(moved[1:], other[:]) // the rpIdHash follows the version byte
		return nd.Put(c.ID, moved)
	})
	s = mustOpen(t, dir, Options{})
	for _, tc := range []struct {
		name string
		rp   [32]byte
		id   []byte
	}{{"the record moved to another RP", other, c.ID}, {"the record copied to another ID", testRP, copied}} {
		found, err := s.Lookup(tc.rp, tc.id)
		if err != nil {
			t.Fatalf("%s: Lookup: %v", tc.name, err)
		}
		if sig, err := s.Sign(found, []byte("m")); err == nil {
			t.Errorf("%s: Sign = %x, want an error", tc.name, sig)
		}
	}
	if _, err := s.Lookup(testRP, c.ID); !errors.Is(err, keystore.ErrNotFound) {
		t.Errorf("Lookup for the RP the record no longer names: %v, want ErrNotFound", err)
	}
	for _, id := range [][]byte{
		append([]byte{idNonDiscoverableStoredV1}, make([]byte, discoverableRandLen)...),
		c.ID[:discoverableIDLen-1],
		append(slices.Clone(c.ID), 0),
	} {
		if _, err := s.Lookup(other, id); !errors.Is(err, keystore.ErrNotFound) {
			t.Errorf("Lookup(%x): %v, want ErrNotFound", id, err)
		}
	}
}

// TestParseNDRecord: an ndRecordV1 round-trips, and every truncation, an
// unknown version or flag, an overlong credBlob and a trailing byte are
// refused.
func TestParseNDRecord(t *testing.T) {
	r := record{rpIDHash: testRP, alg: keystore.PS256, credProtect: 2, created: -5, flags: flagThirdPartyPayment,
		credBlob: []byte{1, 2}, publicKey: []byte("pub"), keyHandle: []byte("handle"), nonDiscoverable: true}
	val, err := r.encodeND()
	if err != nil {
		t.Fatal(err)
	}
	got, err := parseNDRecord(val)
	if err != nil || got.rpIDHash != r.rpIDHash || got.alg != r.alg || got.credProtect != r.credProtect ||
		got.created != r.created || got.flags != r.flags || !bytes.Equal(got.credBlob, r.credBlob) ||
		!bytes.Equal(got.publicKey, r.publicKey) || !bytes.Equal(got.keyHandle, r.keyHandle) || !got.nonDiscoverable {
		t.Fatalf("parseNDRecord(encodeND(%+v)) = %+v, %v", r, got, err)
	}
	flagsAt := 1 + 32 + 4 + 1 + 8
	bad := map[string][]byte{
		"unknown version": append([]byte{ndRecordV1 + 1}, val[1:]...),
		"unknown flag":    slices.Concat(val[:flagsAt], []byte{0x80}, val[flagsAt+1:]),
		"credBlob too long": slices.Concat(val[:flagsAt+1], []byte{keystore.MaxCredBlobLength + 1},
			make([]byte, keystore.MaxCredBlobLength+1), val[flagsAt+2+len(r.credBlob):]),
		"a trailing byte": append(slices.Clone(val), 0),
	}
	for n := range len(val) {
		bad[fmt.Sprintf("truncated to %d bytes", n)] = val[:n]
	}
	for name, v := range bad {
		if got, err := parseNDRecord(v); err == nil {
			t.Errorf("%s: parseNDRecord = %+v, want an error", name, got)
		}
	}
}

// TestUpgradeFromFormatV4: a store of format version 4, which has no
// bucketND, opens as the current version with the bucket made; its
// credentials of both kinds still sign, and it then keeps RSA
// non-discoverable credentials across reopening.
func TestUpgradeFromFormatV4(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir, Options{})
	old := []*keystore.Credential{createCred(t, s, true, "a"), createCred(t, s, false, "b")}
	mustClose(t, s)
	editDB(t, dir, func(tx *bolt.Tx) error {
		if err := tx.DeleteBucket(bucketND); err != nil {
			return err
		}
		return tx.Bucket(bucketMeta).Put(keyVersion, []byte{4})
	})
	s = mustOpen(t, dir, Options{})
	s.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketMeta).Get(keyVersion); !bytes.Equal(v, []byte{formatVersion}) || formatVersion != 5 {
			t.Errorf("format version %v after opening, want 5", v)
		}
		if tx.Bucket(bucketND) == nil {
			t.Error("no bucketND after the upgrade")
		}
		return nil
	})
	for _, c := range old {
		found, err := s.Lookup(testRP, c.ID)
		if err == nil {
			_, err = s.Sign(found, []byte("m"))
		}
		if err != nil {
			t.Errorf("credential %x from version 4 (discoverable %v): %v", c.ID, c.Discoverable, err)
		}
	}
	c := createStoredND(t, s)
	mustClose(t, s)
	s = mustOpen(t, dir, Options{})
	found, err := s.Lookup(testRP, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := s.Sign(found, []byte("m"))
	if err == nil {
		err = cose.Verify(keystore.RS256, c.PublicKey, []byte("m"), sig)
	}
	if err != nil {
		t.Errorf("RS256 credential made after the upgrade: %v", err)
	}
}
