package soft

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/vauth/vauth/keystore"
)

// storedCount reads the stored count of discoverable credentials and the
// number of records, which must agree.
func storedCount(t *testing.T, s *Store) (counted uint64, records int) {
	t.Helper()
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		counted, err = parseCount(tx.Bucket(bucketMeta).Get(keyCount))
		records = tx.Bucket(bucketCreds).Stats().KeyN
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return counted, records
}

func TestUpgradeFromVersion1(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir, Options{})
	for i := range 3 {
		createCred(t, s, true, fmt.Sprint(i))
	}
	mustClose(t, s)
	// A version 1 store has no count.
	editDB(t, dir, func(tx *bolt.Tx) error {
		if err := tx.Bucket(bucketMeta).Delete(keyCount); err != nil {
			return err
		}
		return tx.Bucket(bucketMeta).Put(keyVersion, []byte{1})
	})
	s = mustOpen(t, dir, Options{})
	if n, err := s.CountDiscoverable(); err != nil || n != 3 {
		t.Errorf("CountDiscoverable of an upgraded store = %d, %v; want 3", n, err)
	}
	createCred(t, s, true, "after the upgrade")
	if counted, records := storedCount(t, s); counted != 4 || records != 4 {
		t.Errorf("after a Create: counted %d, %d records; want 4", counted, records)
	}
	mustClose(t, s)
	editDB(t, dir, func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketMeta).Get(keyVersion); !bytes.Equal(v, []byte{formatVersion}) {
			t.Errorf("format version after the upgrade: %v, want %d", v, formatVersion)
		}
		return nil
	})
}

func TestCreateMany(t *testing.T) {
	s := mustOpen(t, t.TempDir(), Options{})
	existing := createCred(t, s, true, "alice")
	other := sha256.Sum256([]byte("other.example"))
	req := func(rpID string, rpIDHash [32]byte, user string) keystore.CreateRequest {
		return keystore.CreateRequest{RPID: rpID, RPIDHash: rpIDHash, User: keystore.User{ID: []byte(user), Name: user}, Algorithm: keystore.ES256, Discoverable: true}
	}
	reqs := []keystore.CreateRequest{
		req("example.com", testRP, "alice"),     // replaces the existing alice
		req("example.com", testRP, "bob"),       // replaced by the last one
		req("other.example", other, "alice"),    // another RP: replaces nothing
		req("example.com", testRP, "carol"),     //
		req("example.com", testRP, "bob"),       // replaces bob of this batch
		req("other.example", other, "dave"),     //
		req("other.example", other, "dave-too"), //
	}
	creds, err := s.CreateMany(reqs)
	if err != nil {
		t.Fatal(err)
	}
	if len(creds) != len(reqs) {
		t.Fatalf("CreateMany returned %d credentials for %d requests", len(creds), len(reqs))
	}
	gone := [][]byte{existing.ID, creds[1].ID}
	for _, id := range gone {
		if _, err := s.FindDiscoverable(id); err == nil {
			t.Errorf("replaced credential %x still exists", id)
		}
	}
	got, err := s.Discoverable(testRP)
	if want := [][]byte{creds[4].ID, creds[3].ID, creds[0].ID}; err != nil || len(got) != len(want) {
		t.Fatalf("Discoverable(example.com) = %d credentials, %v; want %d", len(got), err, len(want))
	} else {
		for i := range want {
			if !bytes.Equal(got[i].ID, want[i]) {
				t.Errorf("Discoverable(example.com)[%d] = %x, want %x (newest first)", i, got[i].ID, want[i])
			}
		}
	}
	if counted, records := storedCount(t, s); counted != 6 || records != 6 {
		t.Errorf("counted %d, %d records; want 6", counted, records)
	}
	// Each new credential signs, and counts from 1 as after Create.
	for _, i := range []int{0, 2, 3, 4, 5, 6} {
		c := creds[i]
		if _, err := s.Sign(c, []byte("msg")); err != nil {
			t.Errorf("Sign with credential %d: %v", i, err)
		}
		if n, err := s.NextCounter(c); err != nil || n != 1 {
			t.Errorf("first counter of credential %d = %d, %v; want 1", i, n, err)
		}
	}

	// All or nothing: a bad request anywhere stores none.
	bad := []keystore.CreateRequest{req("example.com", testRP, "erin"), req("example.com", testRP, "")}
	if _, err := s.CreateMany(bad); err == nil {
		t.Error("CreateMany with a request without user ID succeeded")
	}
	if _, err := s.CreateMany([]keystore.CreateRequest{{RPIDHash: testRP, Algorithm: keystore.ES256}}); err == nil {
		t.Error("CreateMany of a non-discoverable credential succeeded")
	}
	if counted, records := storedCount(t, s); counted != 6 || records != 6 {
		t.Errorf("after failed CreateMany: counted %d, %d records; want 6", counted, records)
	}
}

// TestCountFollowsEveryChange checks the stored count against the records
// after each kind of change, and across reopening and Reset.
func TestCountFollowsEveryChange(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir, Options{})
	check := func(when string, want uint64) {
		t.Helper()
		counted, records := storedCount(t, s)
		if counted != want || records != int(want) {
			t.Errorf("%s: counted %d, %d records; want %d", when, counted, records, want)
		}
	}
	check("new store", 0)
	a := createCred(t, s, true, "a")
	createCred(t, s, true, "b")
	createCred(t, s, false, "nd")
	check("two discoverable, one not", 2)
	createCred(t, s, true, "a")
	check("a replaced", 2)
	if err := s.Delete(a.ID); err == nil {
		t.Fatal("Delete of the replaced credential succeeded")
	}
	check("failed Delete", 2)
	all, err := s.All()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(all[0].ID); err != nil {
		t.Fatal(err)
	}
	check("one deleted", 1)
	mustClose(t, s)
	s = mustOpen(t, dir, Options{})
	check("reopened", 1)
	if err := s.Reset(); err != nil {
		t.Fatal(err)
	}
	check("reset", 0)
	createCred(t, s, true, "c")
	check("after reset", 1)
}

func TestIndexesClosed(t *testing.T) {
	s := mustOpen(t, t.TempDir(), Options{})
	c := createCred(t, s, true, "a")
	mustClose(t, s)
	if _, err := s.CountDiscoverable(); err == nil {
		t.Error("CountDiscoverable on a closed store succeeded")
	}
	if _, err := s.DiscoverableRPs(); err == nil {
		t.Error("DiscoverableRPs on a closed store succeeded")
	}
	if _, err := s.FindDiscoverable(c.ID); err == nil {
		t.Error("FindDiscoverable on a closed store succeeded")
	}
	if _, err := s.CreateMany([]keystore.CreateRequest{{RPID: "example.com", RPIDHash: testRP, User: keystore.User{ID: []byte("b")}, Algorithm: keystore.ES256, Discoverable: true}}); err == nil {
		t.Error("CreateMany on a closed store succeeded")
	}
}
