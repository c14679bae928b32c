package soft

import (
	"bytes"
	"cmp"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/vauth/vauth/keystore"
)

var errUserMismatch = errors.New("soft: user ID does not match the credential's")

// Create implements keystore.Keystore. A discoverable credential needs an RP
// ID and a user ID of 1 to 64 bytes; its first block of counter values is
// reserved in the same transaction.
func (s *Store) Create(req keystore.CreateRequest) (*keystore.Credential, error) {
	if !slices.Contains(s.algs, req.Algorithm) {
		return nil, fmt.Errorf("%w: %d", keystore.ErrUnsupportedAlgorithm, req.Algorithm)
	}
	if req.Discoverable {
		if err := checkUser(req.User); err != nil {
			return nil, err
		}
		if req.RPID == "" || len(req.RPID) > maxNameLen {
			return nil, fmt.Errorf("soft: RP ID must be 1 to %d bytes", maxNameLen)
		}
	}
	if err := s.begin(); err != nil {
		s.mu.RUnlock()
		return nil, err
	}
	defer s.mu.RUnlock()

	pub, blob, err := s.engine.Generate(req.Algorithm)
	if err != nil {
		return nil, err
	}
	defer clear(blob)
	if len(blob) > s.engine.MaxBlobLen() {
		return nil, fmt.Errorf("soft: engine made a %d-byte key blob, more than its maximum %d", len(blob), s.engine.MaxBlobLen())
	}
	c := &keystore.Credential{
		RPIDHash:     req.RPIDHash,
		Algorithm:    req.Algorithm,
		PublicKey:    pub,
		Discoverable: req.Discoverable,
		CredProtect:  req.CredProtect,
		Created:      time.Unix(0, s.now().UnixNano()),
	}
	if !req.Discoverable {
		p := ndPayload{alg: req.Algorithm, credProtect: req.CredProtect, created: c.Created.UnixNano(), blob: blob}
		plain := p.marshal()
		defer clear(plain)
		c.ID, err = seal(s.keys.credentialID, s.rand, plain, sealAD(idNonDiscoverableV1, req.RPIDHash[:]))
		if err != nil {
			return nil, err
		}
		c.KeyHandle = slices.Clone(c.ID)
		return c, nil
	}

	c.ID = make([]byte, discoverableIDLen)
	c.ID[0] = idDiscoverableV1
	if _, err := io.ReadFull(s.rand, c.ID[1:]); err != nil {
		return nil, fmt.Errorf("soft: credential ID: %w", err)
	}
	plain := appendAlg(nil, req.Algorithm)
	plain = append(plain, blob...)
	defer clear(plain)
	c.KeyHandle, err = seal(s.keys.keyHandle, s.rand, plain, sealAD(keyHandleV1, req.RPIDHash[:], c.ID))
	if err != nil {
		return nil, err
	}
	pubDER, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("soft: encode public key: %w", err)
	}
	c.RPID = req.RPID
	c.User = keystore.User{ID: slices.Clone(req.User.ID), Name: req.User.Name, DisplayName: req.User.DisplayName}
	rec := &record{
		rpID:        c.RPID,
		rpIDHash:    c.RPIDHash,
		user:        c.User,
		alg:         c.Algorithm,
		credProtect: c.CredProtect,
		created:     c.Created.UnixNano(),
		publicKey:   pubDER,
		keyHandle:   c.KeyHandle,
	}
	var replaced [][]byte
	err = s.db.Update(func(tx *bolt.Tx) error {
		creds := tx.Bucket(bucketCreds)
		if creds.Get(c.ID) != nil {
			return errors.New("soft: credential ID collision")
		}
		if idx := tx.Bucket(bucketRPs).Bucket(c.RPIDHash[:]); idx != nil {
			err := idx.ForEach(func(_, id []byte) error {
				old, err := parseRecord(creds.Get(id))
				if err != nil {
					return err
				}
				if bytes.Equal(old.user.ID, c.User.ID) {
					replaced = append(replaced, slices.Clone(id))
				}
				return nil
			})
			if err != nil {
				return err
			}
		}
		for _, id := range replaced {
			if err := deleteCredential(tx, id); err != nil {
				return err
			}
		}
		var err error
		if rec.seq, err = creds.NextSequence(); err != nil {
			return err
		}
		val, err := rec.marshal()
		if err != nil {
			return err
		}
		idx, err := tx.Bucket(bucketRPs).CreateBucketIfNotExists(c.RPIDHash[:])
		if err != nil {
			return err
		}
		if err := creds.Put(c.ID, val); err != nil {
			return err
		}
		if err := idx.Put(indexKey(rec.seq), c.ID); err != nil {
			return err
		}
		return tx.Bucket(bucketCounters).Put(c.ID, marshalCounter(s.block))
	})
	if err != nil {
		return nil, fmt.Errorf("soft: store credential: %w", err)
	}
	s.forgetCounters(replaced)
	s.startCounter(c.ID, s.block)
	return c, nil
}

// checkUser checks the user of a discoverable credential.
func checkUser(u keystore.User) error {
	if len(u.ID) == 0 || len(u.ID) > maxUserIDLen {
		return fmt.Errorf("soft: user ID must be 1 to %d bytes", maxUserIDLen)
	}
	if len(u.Name) > maxNameLen || len(u.DisplayName) > maxNameLen {
		return fmt.Errorf("soft: user name and display name must be at most %d bytes", maxNameLen)
	}
	return nil
}

// deleteCredential removes a discoverable credential, its index entry and
// its counter; keystore.ErrNotFound when there is no such credential.
func deleteCredential(tx *bolt.Tx, id []byte) error {
	creds := tx.Bucket(bucketCreds)
	val := creds.Get(id)
	if val == nil {
		return keystore.ErrNotFound
	}
	rec, err := parseRecord(val)
	if err != nil {
		return err
	}
	if err := creds.Delete(id); err != nil {
		return err
	}
	rps := tx.Bucket(bucketRPs)
	if idx := rps.Bucket(rec.rpIDHash[:]); idx != nil {
		if err := idx.Delete(indexKey(rec.seq)); err != nil {
			return err
		}
		if k, _ := idx.Cursor().First(); k == nil {
			if err := rps.DeleteBucket(rec.rpIDHash[:]); err != nil {
				return err
			}
		}
	}
	return tx.Bucket(bucketCounters).Delete(id)
}

// Lookup implements keystore.Keystore. A non-discoverable credential comes
// back without PublicKey: its ID carries only what signing needs.
func (s *Store) Lookup(rpIDHash [32]byte, id []byte) (*keystore.Credential, error) {
	if len(id) == 0 || len(id) > s.maxIDLen {
		return nil, keystore.ErrNotFound
	}
	if err := s.begin(); err != nil {
		s.mu.RUnlock()
		return nil, err
	}
	defer s.mu.RUnlock()
	switch id[0] {
	case idNonDiscoverableV1:
		plain, err := open(s.keys.credentialID, id, sealAD(idNonDiscoverableV1, rpIDHash[:]))
		if err != nil {
			return nil, keystore.ErrNotFound
		}
		defer clear(plain)
		p, ok := parseNDPayload(plain)
		if !ok {
			return nil, keystore.ErrNotFound
		}
		return &keystore.Credential{
			ID:          slices.Clone(id),
			RPIDHash:    rpIDHash,
			Algorithm:   p.alg,
			CredProtect: p.credProtect,
			Created:     time.Unix(0, p.created),
			KeyHandle:   slices.Clone(id),
		}, nil
	case idDiscoverableV1:
		var rec *record
		err := s.db.View(func(tx *bolt.Tx) error {
			val := tx.Bucket(bucketCreds).Get(id)
			if val == nil {
				return keystore.ErrNotFound
			}
			var err error
			rec, err = parseRecord(val)
			return err
		})
		if err != nil {
			return nil, err
		}
		if rec.rpIDHash != rpIDHash {
			return nil, keystore.ErrNotFound
		}
		return rec.credential(id)
	default:
		return nil, keystore.ErrNotFound
	}
}

// Discoverable implements keystore.Keystore: newest first means in reverse
// order of creation, whatever the clock said.
func (s *Store) Discoverable(rpIDHash [32]byte) ([]*keystore.Credential, error) {
	if err := s.begin(); err != nil {
		s.mu.RUnlock()
		return nil, err
	}
	defer s.mu.RUnlock()
	var out []*keystore.Credential
	err := s.db.View(func(tx *bolt.Tx) error {
		idx := tx.Bucket(bucketRPs).Bucket(rpIDHash[:])
		if idx == nil {
			return nil
		}
		creds := tx.Bucket(bucketCreds)
		return idx.ForEach(func(_, id []byte) error {
			rec, err := parseRecord(creds.Get(id))
			if err != nil {
				return err
			}
			c, err := rec.credential(id)
			if err != nil {
				return err
			}
			out = append(out, c)
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// All implements keystore.Keystore.
func (s *Store) All() ([]*keystore.Credential, error) {
	if err := s.begin(); err != nil {
		s.mu.RUnlock()
		return nil, err
	}
	defer s.mu.RUnlock()
	type entry struct {
		seq  uint64
		cred *keystore.Credential
	}
	var entries []entry
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketCreds).ForEach(func(id, val []byte) error {
			rec, err := parseRecord(val)
			if err != nil {
				return err
			}
			c, err := rec.credential(id)
			if err != nil {
				return err
			}
			entries = append(entries, entry{rec.seq, c})
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(entries, func(a, b entry) int { return cmp.Compare(b.seq, a.seq) })
	out := make([]*keystore.Credential, len(entries))
	for i, e := range entries {
		out[i] = e.cred
	}
	return out, nil
}

// Delete implements keystore.Keystore. Non-discoverable credentials live in
// their IDs and cannot be deleted: ErrNotFound.
func (s *Store) Delete(id []byte) error {
	if len(id) != discoverableIDLen || id[0] != idDiscoverableV1 {
		return keystore.ErrNotFound
	}
	if err := s.begin(); err != nil {
		s.mu.RUnlock()
		return err
	}
	defer s.mu.RUnlock()
	if err := s.db.Update(func(tx *bolt.Tx) error { return deleteCredential(tx, id) }); err != nil {
		return err
	}
	s.forgetCounters([][]byte{id})
	return nil
}

// UpdateUser implements keystore.Keystore.
func (s *Store) UpdateUser(id []byte, user keystore.User) error {
	if err := checkUser(user); err != nil {
		return err
	}
	if len(id) != discoverableIDLen || id[0] != idDiscoverableV1 {
		return keystore.ErrNotFound
	}
	if err := s.begin(); err != nil {
		s.mu.RUnlock()
		return err
	}
	defer s.mu.RUnlock()
	return s.db.Update(func(tx *bolt.Tx) error {
		creds := tx.Bucket(bucketCreds)
		val := creds.Get(id)
		if val == nil {
			return keystore.ErrNotFound
		}
		rec, err := parseRecord(val)
		if err != nil {
			return err
		}
		if !bytes.Equal(rec.user.ID, user.ID) {
			return errUserMismatch
		}
		rec.user.Name, rec.user.DisplayName = user.Name, user.DisplayName
		if val, err = rec.marshal(); err != nil {
			return err
		}
		return creds.Put(id, val)
	})
}

// Sign implements keystore.Keystore. The key handle opens only with the
// credential's own ID and rpIdHash.
func (s *Store) Sign(c *keystore.Credential, msg []byte) ([]byte, error) {
	if c == nil {
		return nil, errBadKeyHandle
	}
	if err := s.begin(); err != nil {
		s.mu.RUnlock()
		return nil, err
	}
	defer s.mu.RUnlock()
	alg, blob, err := s.openKey(c)
	if err != nil {
		return nil, err
	}
	defer clear(blob)
	return s.engine.Sign(alg, blob, msg)
}

// openKey unseals a credential's engine blob and algorithm. The caller
// clears the blob.
func (s *Store) openKey(c *keystore.Credential) (int, []byte, error) {
	kh := c.KeyHandle
	if len(kh) == 0 {
		return 0, nil, errBadKeyHandle
	}
	switch kh[0] {
	case idNonDiscoverableV1:
		plain, err := open(s.keys.credentialID, kh, sealAD(idNonDiscoverableV1, c.RPIDHash[:]))
		if err != nil {
			return 0, nil, errBadKeyHandle
		}
		p, ok := parseNDPayload(plain)
		if !ok {
			clear(plain)
			return 0, nil, errBadKeyHandle
		}
		return p.alg, p.blob, nil
	case keyHandleV1:
		plain, err := open(s.keys.keyHandle, kh, sealAD(keyHandleV1, c.RPIDHash[:], c.ID))
		if err != nil || len(plain) < 4 {
			clear(plain)
			return 0, nil, errBadKeyHandle
		}
		return int(int32(binary.BigEndian.Uint32(plain))), plain[4:], nil
	default:
		return 0, nil, errBadKeyHandle
	}
}

var errBadKeyHandle = errors.New("soft: key handle does not open for this credential")
