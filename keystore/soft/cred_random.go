package soft

import (
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"

	"github.com/vauth/vauth/keystore"
)

// HMACEngine is a KeyEngine that keeps the store's hmac-secret device key
// itself, where it keeps credential keys: the store then asks it for
// HMAC-SHA-256 under that key instead of deriving a key from the master
// key (keystore/tpm computes CredRandom inside the TPM this way). It is
// optional: the store type-asserts its engine.
type HMACEngine interface {
	// NewHMACKey makes an HMAC-SHA-256 key and returns its blob, which the
	// store keeps sealed among its blobs (BlobHMACKey) and hands back to
	// HMAC.
	NewHMACKey() ([]byte, error)
	// HMAC returns HMAC-SHA-256(the key in blob, msg).
	HMAC(blob, msg []byte) ([]byte, error)
}

// BlobHMACKey names the store blob that keeps an HMACEngine's key blob.
// Reset deletes it with the other blobs, so the next CredRandom makes a new
// key.
const BlobHMACKey = "soft/hmac-secret-key"

// credRandomLabel starts the message whose HMAC is a CredRandom; the
// user-verification byte, the rpIdHash and the credential ID follow.
const credRandomLabel = "vauth CredRandom v1\x00"

// credRandomMessage is what the device key authenticates to make a
// credential's CredRandom: distinct for every credential, RP and UV state.
func credRandomMessage(c *keystore.Credential, uv bool) []byte {
	msg := make([]byte, 0, len(credRandomLabel)+1+len(c.RPIDHash)+len(c.ID))
	msg = append(msg, credRandomLabel...)
	if uv {
		msg = append(msg, 1)
	} else {
		msg = append(msg, 0)
	}
	msg = append(msg, c.RPIDHash[:]...)
	return append(msg, c.ID...)
}

// CredRandom implements keystore.Keystore: HMAC-SHA-256 over the
// credential's ID, rpIdHash and UV state under a device key, which is the
// engine's own when it is an HMACEngine and otherwise derived from the
// master key. Only a credential whose key handle opens (like Sign) gets
// one.
func (s *Store) CredRandom(c *keystore.Credential, uv bool) ([]byte, error) {
	if c == nil {
		return nil, errBadKeyHandle
	}
	if err := s.begin(); err != nil {
		return nil, err
	}
	defer s.mu.RUnlock()
	if _, _, err := s.openKey(c); err != nil {
		return nil, err
	}
	msg := credRandomMessage(c, uv)
	if e, ok := s.engine.(HMACEngine); ok {
		key, err := s.engineHMACKey(e)
		if err != nil {
			return nil, err
		}
		out, err := e.HMAC(key, msg)
		if err != nil {
			return nil, fmt.Errorf("soft: CredRandom: %w", err)
		}
		if len(out) != keystore.CredRandomLength {
			return nil, fmt.Errorf("soft: CredRandom: the engine's HMAC has %d bytes", len(out))
		}
		return out, nil
	}
	m := hmac.New(sha256.New, s.keys.credRandom)
	m.Write(msg)
	return m.Sum(nil), nil
}

// engineHMACKey returns the engine's HMAC key blob: the stored one, or a
// new one made and stored on first use. s.mu is held for reading.
func (s *Store) engineHMACKey(e HMACEngine) ([]byte, error) {
	s.hmu.Lock()
	defer s.hmu.Unlock()
	if s.hmacKey != nil {
		return s.hmacKey, nil
	}
	key, err := s.getBlob(BlobHMACKey)
	if errors.Is(err, keystore.ErrNotFound) {
		if key, err = e.NewHMACKey(); err != nil {
			return nil, fmt.Errorf("soft: making the hmac-secret key: %w", err)
		}
		err = s.putBlob(BlobHMACKey, key)
	}
	if err != nil {
		return nil, fmt.Errorf("soft: the hmac-secret key: %w", err)
	}
	s.hmacKey = slices.Clone(key)
	return s.hmacKey, nil
}
