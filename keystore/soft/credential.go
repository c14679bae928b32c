package soft

import (
	"bytes"
	"cmp"
	"crypto"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/vauth/vauth/internal/cose"
	"github.com/vauth/vauth/keystore"
)

var errUserMismatch = errors.New("soft: user ID does not match the credential's")

// Create implements keystore.Keystore. A discoverable credential needs an RP
// ID and a user ID of 1 to 64 bytes; its first block of counter values is
// reserved in the same transaction. A non-discoverable credential whose key
// is too long for its ID is stored as durably, its counter starting at its
// first use as for the others.
func (s *Store) Create(req keystore.CreateRequest) (*keystore.Credential, error) {
	if err := s.begin(); err != nil {
		return nil, err
	}
	defer s.mu.RUnlock()
	c, rec, err := s.newCredential(req)
	if err != nil || rec == nil {
		return c, err
	}
	var replaced [][]byte
	err = s.db.Update(func(tx *bolt.Tx) error {
		var err error
		replaced, err = s.put(tx, c, rec)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("soft: store credential: %w", err)
	}
	s.forgetCounters(replaced)
	if c.Discoverable {
		s.startCounter(c.ID, s.block)
	}
	return c, nil
}

// CreateMany makes discoverable credentials, as Create does each of them,
// in one transaction: all or none are stored, with one fsync for all, so
// that a store can be seeded with many credentials (test fixtures, scale
// benchmarks) quickly. The credentials come back in the order of reqs; a
// later request for the same RP and user ID replaces an earlier one, as
// successive Creates would.
func (s *Store) CreateMany(reqs []keystore.CreateRequest) ([]*keystore.Credential, error) {
	for _, req := range reqs {
		if !req.Discoverable {
			return nil, errors.New("soft: CreateMany makes discoverable credentials only")
		}
	}
	if err := s.begin(); err != nil {
		return nil, err
	}
	defer s.mu.RUnlock()
	creds := make([]*keystore.Credential, len(reqs))
	recs := make([]*record, len(reqs))
	for i, req := range reqs {
		var err error
		if creds[i], recs[i], err = s.newCredential(req); err != nil {
			return nil, err
		}
	}
	var replaced [][]byte
	err := s.db.Update(func(tx *bolt.Tx) error {
		for i, c := range creds {
			r, err := s.insert(tx, c.ID, recs[i])
			if err != nil {
				return err
			}
			replaced = append(replaced, r...)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("soft: store credentials: %w", err)
	}
	for _, c := range creds {
		s.startCounter(c.ID, s.block)
	}
	s.forgetCounters(replaced) // some may be from this batch
	return creds, nil
}

// newCredential validates req and makes its key pair: a non-discoverable
// credential complete with its sealed ID, or a credential with the record
// to put.
func (s *Store) newCredential(req keystore.CreateRequest) (*keystore.Credential, *record, error) {
	if err := s.checkRequest(req); err != nil {
		return nil, nil, err
	}
	pub, blob, err := s.engine.Generate(req.Algorithm)
	if err != nil {
		return nil, nil, err
	}
	defer clear(blob)
	return s.assemble(req, pub, blob)
}

// checkRequest validates a request for a new credential.
func (s *Store) checkRequest(req keystore.CreateRequest) error {
	if !slices.Contains(s.algs, req.Algorithm) {
		return fmt.Errorf("%w: %d", keystore.ErrUnsupportedAlgorithm, req.Algorithm)
	}
	if req.Discoverable {
		if err := checkUser(req.User); err != nil {
			return err
		}
		if req.RPID == "" || len(req.RPID) > keystore.MaxRPIDLength {
			return fmt.Errorf("soft: RP ID of %d bytes, want 1 to %d: %w", len(req.RPID), keystore.MaxRPIDLength, keystore.ErrInvalidLength)
		}
	}
	return checkExtensionData(req)
}

// assemble makes the credential of a key pair that the engine generated
// (or, for Import, took in): a non-discoverable credential complete with
// its sealed ID, or a discoverable one or a non-discoverable one whose blob
// is longer than s.inlineBlobLen with the record to put.
func (s *Store) assemble(req keystore.CreateRequest, pub crypto.PublicKey, blob []byte) (*keystore.Credential, *record, error) {
	var err error
	if len(blob) > s.engine.MaxBlobLen() {
		return nil, nil, fmt.Errorf("soft: engine made a %d-byte key blob, more than its maximum %d", len(blob), s.engine.MaxBlobLen())
	}
	c := &keystore.Credential{
		RPIDHash:     req.RPIDHash,
		Algorithm:    req.Algorithm,
		PublicKey:    pub,
		Discoverable: req.Discoverable,
		CredProtect:  req.CredProtect,
		CredBlob:     nilIfEmpty(req.CredBlob),
		LargeBlobKey: nilIfEmpty(req.LargeBlobKey),
		Created:      time.Unix(0, s.now().UnixNano()),

		ThirdPartyPayment: req.ThirdPartyPayment,
	}
	flags := credentialFlags(req.ThirdPartyPayment)
	if !req.Discoverable && len(blob) <= s.inlineBlobLen {
		p := ndPayload{alg: req.Algorithm, credProtect: req.CredProtect, created: c.Created.UnixNano(), flags: flags, credBlob: c.CredBlob, blob: blob}
		if c.ID, err = s.sealID(&p, req.RPIDHash); err != nil {
			return nil, nil, err
		}
		c.KeyHandle = slices.Clone(c.ID)
		return c, nil, nil
	}

	// A discoverable credential, or a non-discoverable one whose sealed ID
	// would be too long (doc.go): a random ID, and a record.
	kind := byte(idDiscoverableV1)
	if !req.Discoverable {
		kind = idNonDiscoverableStoredV1
	}
	c.ID = make([]byte, discoverableIDLen)
	c.ID[0] = kind
	if _, err := io.ReadFull(s.rand, c.ID[1:]); err != nil {
		return nil, nil, fmt.Errorf("soft: credential ID: %w", err)
	}
	plain := appendAlg(nil, req.Algorithm)
	plain = append(plain, blob...)
	defer clear(plain)
	c.KeyHandle, err = seal(s.keys.keyHandle, s.rand, plain, sealAD(keyHandleV1, req.RPIDHash[:], c.ID))
	if err != nil {
		return nil, nil, err
	}
	pubDER, err := cose.MarshalPKIX(pub)
	if err != nil {
		return nil, nil, fmt.Errorf("soft: encode public key: %w", err)
	}
	rec := &record{
		rpIDHash:    c.RPIDHash,
		alg:         c.Algorithm,
		credProtect: c.CredProtect,
		created:     c.Created.UnixNano(),
		publicKey:   pubDER,
		keyHandle:   c.KeyHandle,
		credBlob:    c.CredBlob,
		flags:       flags,

		nonDiscoverable: !req.Discoverable,
	}
	if req.Discoverable {
		c.RPID = req.RPID
		c.User = keystore.User{ID: slices.Clone(req.User.ID), Name: req.User.Name, DisplayName: req.User.DisplayName}
		rec.rpID, rec.user, rec.largeBlobKey = c.RPID, c.User, c.LargeBlobKey
	}
	return c, rec, nil
}

// sealID seals a non-discoverable credential's payload into its ID, bound
// to rpIDHash.
func (s *Store) sealID(p *ndPayload, rpIDHash [32]byte) ([]byte, error) {
	plain := p.marshal()
	defer clear(plain)
	return seal(s.keys.credentialID, s.rand, plain, sealAD(idNonDiscoverableV3, rpIDHash[:]))
}

// checkExtensionData checks the credBlob and largeBlobKey of a request: a
// credBlob of at most keystore.MaxCredBlobLength bytes, and a largeBlobKey
// of keystore.LargeBlobKeyLength bytes for a discoverable credential only.
func checkExtensionData(req keystore.CreateRequest) error {
	if len(req.CredBlob) > keystore.MaxCredBlobLength {
		return fmt.Errorf("soft: credBlob of %d bytes, at most %d: %w", len(req.CredBlob), keystore.MaxCredBlobLength, keystore.ErrInvalidLength)
	}
	switch {
	case len(req.LargeBlobKey) == 0:
	case !req.Discoverable:
		return errors.New("soft: a non-discoverable credential cannot have a largeBlobKey")
	case len(req.LargeBlobKey) != keystore.LargeBlobKeyLength:
		return fmt.Errorf("soft: largeBlobKey of %d bytes, want %d: %w", len(req.LargeBlobKey), keystore.LargeBlobKeyLength, keystore.ErrInvalidLength)
	}
	return nil
}

// nilIfEmpty copies b, or returns nil for an empty b: a credential without
// a credBlob or largeBlobKey has nil there.
func nilIfEmpty(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return slices.Clone(b)
}

// put stores the record of a new credential that assemble made: a
// discoverable one with insert, returning the IDs of the credentials it
// replaced, or a stored non-discoverable one in bucketND.
func (s *Store) put(tx *bolt.Tx, c *keystore.Credential, rec *record) ([][]byte, error) {
	if c.Discoverable {
		return s.insert(tx, c.ID, rec)
	}
	nd := tx.Bucket(bucketND)
	if nd.Get(c.ID) != nil {
		return nil, errors.New("soft: credential ID collision")
	}
	val, err := rec.encodeND()
	if err != nil {
		return nil, err
	}
	return nil, nd.Put(c.ID, val)
}

// insert stores a discoverable credential's record, its RP index entry
// and its first counter block, and counts it, deleting any credential of
// the same RP with the same user ID, whose IDs it returns.
func (s *Store) insert(tx *bolt.Tx, id []byte, rec *record) (replaced [][]byte, err error) {
	creds := tx.Bucket(bucketCreds)
	if creds.Get(id) != nil {
		return nil, errors.New("soft: credential ID collision")
	}
	if idx := tx.Bucket(bucketRPs).Bucket(rec.rpIDHash[:]); idx != nil {
		err := idx.ForEach(func(_, id []byte) error {
			old, err := parseRecord(creds.Get(id))
			if err != nil {
				return err
			}
			if bytes.Equal(old.user.ID, rec.user.ID) {
				replaced = append(replaced, slices.Clone(id))
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	for _, id := range replaced {
		if err := deleteCredential(tx, id); err != nil {
			return nil, err
		}
	}
	if rec.seq, err = creds.NextSequence(); err != nil {
		return nil, err
	}
	val, err := rec.encode()
	if err != nil {
		return nil, err
	}
	idx, err := tx.Bucket(bucketRPs).CreateBucketIfNotExists(rec.rpIDHash[:])
	if err != nil {
		return nil, err
	}
	if err := creds.Put(id, val); err != nil {
		return nil, err
	}
	if err := idx.Put(indexKey(rec.seq), id); err != nil {
		return nil, err
	}
	if err := tx.Bucket(bucketCounters).Put(id, marshalCounter(s.block)); err != nil {
		return nil, err
	}
	return replaced, addDiscoverable(tx, 1)
}

// checkUser checks the user of a discoverable credential against the
// keystore's limits.
func checkUser(u keystore.User) error {
	if len(u.ID) == 0 || len(u.ID) > keystore.MaxUserIDLength {
		return fmt.Errorf("soft: user ID of %d bytes, want 1 to %d: %w", len(u.ID), keystore.MaxUserIDLength, keystore.ErrInvalidLength)
	}
	if len(u.Name) > keystore.MaxUserNameLength || len(u.DisplayName) > keystore.MaxUserNameLength {
		return fmt.Errorf("soft: user name of %d and display name of %d bytes, at most %d each: %w",
			len(u.Name), len(u.DisplayName), keystore.MaxUserNameLength, keystore.ErrInvalidLength)
	}
	return nil
}

// deleteCredential removes a discoverable credential, its index entry and
// its counter, and uncounts it; keystore.ErrNotFound when there is no such
// credential.
func deleteCredential(tx *bolt.Tx, id []byte) error {
	creds := tx.Bucket(bucketCreds)
	rec, err := getRecord(creds, id)
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
	if err := tx.Bucket(bucketUsage).Delete(id); err != nil {
		return err
	}
	if err := tx.Bucket(bucketCounters).Delete(id); err != nil {
		return err
	}
	return addDiscoverable(tx, -1)
}

// Lookup implements keystore.Keystore. A non-discoverable credential with a
// sealed ID comes back without PublicKey: its ID carries only what signing
// needs. A stored one is bound to its rpIdHash as a sealed ID is.
func (s *Store) Lookup(rpIDHash [32]byte, id []byte) (*keystore.Credential, error) {
	if len(id) == 0 || len(id) > s.readIDLen {
		return nil, keystore.ErrNotFound
	}
	if err := s.begin(); err != nil {
		return nil, err
	}
	defer s.mu.RUnlock()
	switch id[0] {
	case idNonDiscoverableV1, idNonDiscoverableV2, idNonDiscoverableV3:
		p, ok := s.keys.openND(id, rpIDHash)
		if !ok {
			return nil, keystore.ErrNotFound
		}
		id = slices.Clone(id) // the ID is its own key handle
		return &keystore.Credential{
			ID:          id,
			RPIDHash:    rpIDHash,
			Algorithm:   p.alg,
			CredProtect: p.credProtect,
			CredBlob:    nilIfEmpty(p.credBlob),
			Created:     time.Unix(0, p.created),
			KeyHandle:   id,

			ThirdPartyPayment: p.flags&flagThirdPartyPayment != 0,
		}, nil
	case idDiscoverableV1, idNonDiscoverableStoredV1:
		rec, err := s.readRecord(id)
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

// readRecord reads the record of a discoverable or stored non-discoverable
// credential, by the kind of its ID; keystore.ErrNotFound when there is
// none.
func (s *Store) readRecord(id []byte) (*record, error) {
	var rec *record
	err := s.db.View(func(tx *bolt.Tx) error {
		if id[0] != idNonDiscoverableStoredV1 {
			var err error
			rec, err = getRecord(tx.Bucket(bucketCreds), id)
			return err
		}
		val := tx.Bucket(bucketND).Get(id)
		if val == nil {
			return keystore.ErrNotFound
		}
		var err error
		rec, err = parseNDRecord(val)
		return err
	})
	return rec, err
}

// missing reports whether id names a credential that the database holds
// the record of, and it does not: deleted, reset, or never made.
func missing(tx *bolt.Tx, id []byte) bool {
	switch id[0] {
	case idDiscoverableV1:
		return tx.Bucket(bucketCreds).Get(id) == nil
	case idNonDiscoverableStoredV1:
		return tx.Bucket(bucketND).Get(id) == nil
	}
	return false
}

// getRecord reads the record under id in the credentials bucket;
// keystore.ErrNotFound when there is none.
func getRecord(creds *bolt.Bucket, id []byte) (*record, error) {
	val := creds.Get(id)
	if val == nil {
		return nil, keystore.ErrNotFound
	}
	return parseRecord(val)
}

// Discoverable implements keystore.Keystore: newest first means in reverse
// order of creation, whatever the clock said.
func (s *Store) Discoverable(rpIDHash [32]byte) ([]*keystore.Credential, error) {
	if err := s.begin(); err != nil {
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
		return nil, err
	}
	defer s.mu.RUnlock()
	var found newestFirst
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketCreds).ForEach(found.add)
	})
	if err != nil {
		return nil, err
	}
	return found.credentials(), nil
}

// newestFirst collects discoverable credentials from their records, to
// return them newest first: in reverse order of creation.
type newestFirst []seqCredential

// seqCredential is a credential and its record's sequence number.
type seqCredential struct {
	seq  uint64
	cred *keystore.Credential
}

// add collects the credential of the record val under id.
func (n *newestFirst) add(id, val []byte) error {
	rec, err := parseRecord(val)
	if err != nil {
		return err
	}
	c, err := rec.credential(id)
	if err != nil {
		return err
	}
	*n = append(*n, seqCredential{rec.seq, c})
	return nil
}

// credentials returns what was collected, newest first.
func (n newestFirst) credentials() []*keystore.Credential {
	slices.SortFunc(n, func(a, b seqCredential) int { return cmp.Compare(b.seq, a.seq) })
	out := make([]*keystore.Credential, len(n))
	for i, e := range n {
		out[i] = e.cred
	}
	return out
}

// Delete implements keystore.Keystore. Non-discoverable credentials cannot
// be deleted one by one, whether they live in their IDs or in bucketND:
// ErrNotFound, for every one alike; Reset removes them.
func (s *Store) Delete(id []byte) error {
	if len(id) != discoverableIDLen || id[0] != idDiscoverableV1 {
		return keystore.ErrNotFound
	}
	if err := s.begin(); err != nil {
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
		return err
	}
	defer s.mu.RUnlock()
	return s.db.Update(func(tx *bolt.Tx) error {
		creds := tx.Bucket(bucketCreds)
		rec, err := getRecord(creds, id)
		if err != nil {
			return err
		}
		if !bytes.Equal(rec.user.ID, user.ID) {
			return errUserMismatch
		}
		rec.user.Name, rec.user.DisplayName = user.Name, user.DisplayName
		val, err := rec.encode()
		if err != nil {
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
		return nil, err
	}
	defer s.mu.RUnlock()
	alg, blob, err := s.openKey(c)
	if err != nil {
		return nil, err
	}
	return s.engine.Sign(alg, blob, msg)
}

// openKey unseals a credential's engine blob and algorithm. The blob is
// the open cache's: the caller neither changes nor clears it.
func (s *Store) openKey(c *keystore.Credential) (int, []byte, error) {
	kh := c.KeyHandle
	if len(kh) == 0 {
		return 0, nil, errBadKeyHandle
	}
	switch kh[0] {
	case idNonDiscoverableV1, idNonDiscoverableV2, idNonDiscoverableV3:
		p, ok := s.keys.openND(kh, c.RPIDHash)
		if !ok {
			return 0, nil, errBadKeyHandle
		}
		return p.alg, p.blob, nil
	case keyHandleV1:
		var ad [1 + 32 + discoverableIDLen]byte
		plain, err := s.keys.opened.open(s.keys.keyHandle, kh, appendAD(ad[:0], keyHandleV1, c.RPIDHash[:], c.ID))
		if err != nil || len(plain) < 4 {
			return 0, nil, errBadKeyHandle
		}
		return int(int32(binary.BigEndian.Uint32(plain))), plain[4:], nil
	default:
		return 0, nil, errBadKeyHandle
	}
}

var errBadKeyHandle = errors.New("soft: key handle does not open for this credential")
