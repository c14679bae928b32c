package soft

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"fmt"
	"strings"

	bolt "go.etcd.io/bbolt"

	"github.com/vauth/vauth/keystore"
)

// keyImporter is an engine that can take in a private key made elsewhere:
// the software Engine. The TPM engine cannot: its keys are born in the TPM
// and never leave it.
type keyImporter interface {
	importKey(key crypto.PrivateKey) (alg int, pub crypto.PublicKey, blob []byte, err error)
}

// importKey implements keyImporter: a P-256 ECDSA key (ES256) or an Ed25519
// key (EdDSA) becomes the blob Generate would have made for it.
func (e *Engine) importKey(key crypto.PrivateKey) (int, crypto.PublicKey, []byte, error) {
	switch k := key.(type) {
	case *ecdsa.PrivateKey:
		if k.Curve != elliptic.P256() {
			return 0, nil, nil, fmt.Errorf("%w: ECDSA on %s (ES256 needs P-256)", keystore.ErrUnsupportedAlgorithm, k.Curve.Params().Name)
		}
		raw, err := k.Bytes()
		if err != nil {
			return 0, nil, nil, fmt.Errorf("soft: encode P-256 key: %w", err)
		}
		blob := append([]byte{softBlobVersion}, raw...)
		clear(raw)
		pub := k.PublicKey
		return keystore.ES256, &pub, blob, nil
	case ed25519.PrivateKey:
		if len(k) != ed25519.PrivateKeySize {
			return 0, nil, nil, fmt.Errorf("soft: Ed25519 private key of %d bytes", len(k))
		}
		return keystore.EdDSA, k.Public(), append([]byte{softBlobVersion}, k...), nil
	}
	return 0, nil, nil, fmt.Errorf("%w: %T keys (want P-256 ECDSA or Ed25519)", keystore.ErrUnsupportedAlgorithm, key)
}

// Import implements keystore.Importer: the key is sealed as Create seals a
// key it made, and the signature counter starts at req.SignCount (written
// down, so that the first assertion carries SignCount+1). A store on the
// TPM engine refuses: its keys must be born in the TPM.
func (s *Store) Import(req keystore.ImportRequest) (*keystore.Credential, error) {
	ki, ok := s.engine.(keyImporter)
	if !ok {
		return nil, fmt.Errorf("import is not supported on a %s keystore, whose keys are born in it and never leave it: %w",
			strings.ToUpper(s.engine.Name()), keystore.ErrImportUnsupported)
	}
	alg, pub, blob, err := ki.importKey(req.PrivateKey)
	if err != nil {
		return nil, err
	}
	defer clear(blob)
	creq := keystore.CreateRequest{
		RPID: req.RPID, RPIDHash: req.RPIDHash, User: req.User, Algorithm: alg,
		Discoverable: req.Discoverable, CredProtect: req.CredProtect,
	}
	if err := s.checkRequest(creq); err != nil {
		return nil, err
	}
	if err := s.begin(); err != nil {
		return nil, err
	}
	defer s.mu.RUnlock()
	c, rec, err := s.assemble(creq, pub, blob)
	if err != nil {
		return nil, err
	}
	if !c.Discoverable && req.SignCount == 0 {
		return c, nil // like a new one: nothing on disk until its first use
	}
	var replaced [][]byte
	err = s.db.Update(func(tx *bolt.Tx) error {
		if c.Discoverable {
			var err error
			if replaced, err = s.insert(tx, c.ID, rec); err != nil {
				return err
			}
		}
		if err := tx.Bucket(bucketUsage).Put(c.ID, usage{counter: req.SignCount}.marshal()); err != nil {
			return err // Usage reports the imported counter before the first use
		}
		return tx.Bucket(bucketCounters).Put(c.ID, marshalCounter(req.SignCount))
	})
	if err != nil {
		return nil, fmt.Errorf("soft: store imported credential: %w", err)
	}
	s.forgetCounters(replaced)
	return c, nil
}

var _ keystore.Importer = (*Store)(nil)
