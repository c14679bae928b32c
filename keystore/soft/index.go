package soft

import (
	"encoding/binary"
	"errors"

	bolt "go.etcd.io/bbolt"

	"github.com/vauth/vauth/keystore"
)

// The store answers the optional index interfaces of keystore from what it
// keeps anyway: the count of discoverable credentials in the meta bucket,
// maintained in the transaction that adds or deletes one, and the per-RP
// index, whose first key in each RP is that RP's newest credential.

// addDiscoverable adds delta to the stored count of discoverable
// credentials.
func addDiscoverable(tx *bolt.Tx, delta int) error {
	meta := tx.Bucket(bucketMeta)
	n, err := parseCount(meta.Get(keyCount))
	if err != nil {
		return err
	}
	if delta < 0 && uint64(-delta) > n {
		return errors.New("soft: discoverable credential count would go below zero")
	}
	return putCount(tx, uint64(int64(n)+int64(delta)))
}

// putCount stores the count of discoverable credentials.
func putCount(tx *bolt.Tx, n uint64) error {
	return tx.Bucket(bucketMeta).Put(keyCount, binary.BigEndian.AppendUint64(nil, n))
}

// parseCount decodes the stored count; a new store has none yet.
func parseCount(val []byte) (uint64, error) {
	switch len(val) {
	case 0:
		return 0, nil
	case 8:
		return binary.BigEndian.Uint64(val), nil
	}
	return 0, errors.New("soft: malformed discoverable credential count")
}

// recount stores the number of records in the credentials bucket as the
// count: the upgrade of a version 1 store, which kept no count.
func recount(tx *bolt.Tx) error {
	return putCount(tx, uint64(tx.Bucket(bucketCreds).Stats().KeyN))
}

// CountDiscoverable implements keystore.DiscoverableCounter from the stored
// count: constant time, whatever the store holds.
func (s *Store) CountDiscoverable() (int, error) {
	if err := s.begin(); err != nil {
		return 0, err
	}
	defer s.mu.RUnlock()
	var n uint64
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		n, err = parseCount(tx.Bucket(bucketMeta).Get(keyCount))
		return err
	})
	if err != nil {
		return 0, err
	}
	return int(n), nil
}

// DiscoverableRPs implements keystore.RPLister from the RP index: one
// record read per RP.
func (s *Store) DiscoverableRPs() ([]*keystore.Credential, error) {
	if err := s.begin(); err != nil {
		return nil, err
	}
	defer s.mu.RUnlock()
	var found newestFirst
	err := s.db.View(func(tx *bolt.Tx) error {
		creds := tx.Bucket(bucketCreds)
		return tx.Bucket(bucketRPs).ForEachBucket(func(rpIDHash []byte) error {
			_, id := tx.Bucket(bucketRPs).Bucket(rpIDHash).Cursor().First()
			if id == nil {
				return nil // deleteCredential drops an RP's bucket when it empties
			}
			return found.add(id, creds.Get(id))
		})
	})
	if err != nil {
		return nil, err
	}
	return found.credentials(), nil
}

// FindDiscoverable implements keystore.DiscoverableFinder: the record
// under the ID, whatever its RP.
func (s *Store) FindDiscoverable(id []byte) (*keystore.Credential, error) {
	if len(id) != discoverableIDLen || id[0] != idDiscoverableV1 {
		return nil, keystore.ErrNotFound
	}
	if err := s.begin(); err != nil {
		return nil, err
	}
	defer s.mu.RUnlock()
	rec, err := s.readRecord(id)
	if err != nil {
		return nil, err
	}
	return rec.credential(id)
}

var (
	_ keystore.DiscoverableCounter = (*Store)(nil)
	_ keystore.RPLister            = (*Store)(nil)
	_ keystore.DiscoverableFinder  = (*Store)(nil)
)
