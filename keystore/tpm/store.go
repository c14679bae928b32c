package tpm

import (
	"crypto"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"sync"

	"github.com/google/go-tpm/tpm2/transport"

	"github.com/vauth/vauth/keystore"
	"github.com/vauth/vauth/keystore/soft"
)

// Options names the TPM and tunes the backend.
type Options struct {
	// Device is the TPM: a device node (DefaultDevice when empty) or
	// "tcp:HOST:PORT" for a raw TPM command port such as swtpm's.
	Device string
	// TPM, when set, is an open TPM to use instead of Device (a simulator in
	// tests); the caller keeps ownership and closes it.
	TPM transport.TPM
	// CacheSize is how many keys stay loaded (DefaultCacheSize when smaller).
	CacheSize int
	// Soft configures the store itself; Open sets its Engine and Sealer.
	Soft soft.Options
}

// blobAttestationKey names the store blob that keeps the attestation key
// (its TPM-wrapped private area and public point).
const blobAttestationKey = "tpm/attestation-key"

// Store is the soft store with TPM keys and a TPM-sealed master key. It
// closes the TPM engine with the store. It can also certify its new
// credential keys with a TPM attestation key, for the WebAuthn "tpm"
// attestation format.
type Store struct {
	*soft.Store
	engine *Engine

	aikMu   sync.Mutex
	aikBlob []byte // nil until the attestation key is first used
	aikPub  *ecdsa.PublicKey
}

// Open opens (creating if needed) the store in dir with a TPM engine and
// sealer on the TPM that opts names.
func Open(dir string, opts Options) (*Store, error) {
	e, err := OpenEngine(opts)
	if err != nil {
		return nil, err
	}
	return OpenWithEngine(dir, e, opts.Soft)
}

// OpenWithEngine opens (creating if needed) the store in dir on an engine
// already open, for a caller that first checks that the TPM works. The
// store owns the engine from then on: it closes it with itself, or at once
// when opening fails.
func OpenWithEngine(dir string, e *Engine, so soft.Options) (*Store, error) {
	so.Engine, so.Sealer = e, e.Sealer()
	s, err := soft.Open(dir, so)
	if err != nil {
		return nil, errors.Join(err, e.Close())
	}
	st := &Store{Store: s, engine: e}
	if err := st.checkRSA(); err != nil {
		return nil, errors.Join(err, st.Close())
	}
	return st, nil
}

// checkRSA runs the engine's RSA check (see Engine.checkRSA) on the first
// open of a store whose TPM makes RSA keys, keeps the result among the
// store's blobs, and withdraws what it rules out.
func (s *Store) checkRSA() error {
	if !s.engine.offersRSA() {
		return nil
	}
	found, err := s.GetBlob(blobRSACheck)
	switch {
	case err == nil && len(found) == 1 && found[0] != rsaOnePrimeOnly:
	case err == nil || errors.Is(err, keystore.ErrNotFound):
		result, err := s.engine.checkRSA()
		if err != nil {
			return err
		}
		found = []byte{result}
		if err := s.PutBlob(blobRSACheck, found); err != nil {
			return fmt.Errorf("tpm: storing the RSA check: %w", err)
		}
	default:
		return fmt.Errorf("tpm: reading the RSA check: %w", err)
	}
	s.engine.applyRSACheck(found[0])
	return nil
}

// Algorithms implements keystore.Keystore: what the TPM makes, less what
// the RSA check ruled out.
func (s *Store) Algorithms() []int { return s.engine.Algorithms() }

// Engine returns the store's TPM engine (for its command counts).
func (s *Store) Engine() *Engine { return s.engine }

// attestationKey returns the store's attestation key blob and public key,
// making the key on first use and keeping it in the store's blobs, so that
// it stays the same across restarts (and its certificate stays valid).
func (s *Store) attestationKey() ([]byte, *ecdsa.PublicKey, error) {
	s.aikMu.Lock()
	defer s.aikMu.Unlock()
	if s.aikBlob != nil {
		return s.aikBlob, s.aikPub, nil
	}
	blob, err := s.GetBlob(blobAttestationKey)
	var pub *ecdsa.PublicKey
	switch {
	case err == nil:
		if pub, err = attestationKeyPublic(blob); err != nil {
			return nil, nil, fmt.Errorf("tpm: stored attestation key: %w", err)
		}
	case errors.Is(err, keystore.ErrNotFound):
		if pub, blob, err = s.engine.newAttestationKey(); err != nil {
			return nil, nil, err
		}
		if err := s.PutBlob(blobAttestationKey, blob); err != nil {
			return nil, nil, fmt.Errorf("tpm: storing the attestation key: %w", err)
		}
	default:
		return nil, nil, fmt.Errorf("tpm: reading the attestation key: %w", err)
	}
	s.aikBlob, s.aikPub = blob, pub
	return blob, pub, nil
}

// AttestationKey returns the public key of the store's TPM attestation key
// (AIK): a restricted ECDSA P-256 signing key that lives in the TPM, made
// on first use and kept across restarts (Reset makes a new one).
func (s *Store) AttestationKey() (crypto.PublicKey, error) {
	_, pub, err := s.attestationKey()
	if err != nil {
		return nil, err
	}
	return pub, nil
}

// TPMInfo returns the TPM's manufacturer ID (TPM_PT_MANUFACTURER), model
// (vendor string) and firmware version, which the attestation key's
// certificate names.
func (s *Store) TPMInfo() (manufacturer uint32, model string, firmwareVersion uint64, err error) {
	info, err := s.engine.TPMInfo()
	return info.Manufacturer, info.Model, info.FirmwareVersion, err
}

// Certify has the attestation key certify a credential's key with
// TPM2_Certify, for the WebAuthn "tpm" attestation format: certInfo is the
// TPMS_ATTEST the TPM made (extraData = qualifyingData, attested = the
// key's name) and signed, sig the attestation key's ECDSA-SHA256 signature
// over it in ASN.1 DER (whatever the credential's algorithm: the
// attestation key is P-256), pubArea the credential key's TPMT_PUBLIC. Only a
// credential made moments ago by this store can be certified
// (ErrNotCertifiable otherwise): attestation happens at creation.
func (s *Store) Certify(cred *keystore.Credential, qualifyingData []byte) (certInfo, sig, pubArea []byte, err error) {
	if cred == nil {
		return nil, nil, nil, errors.New("tpm: certify: no credential")
	}
	if _, ok := signAlgorithms[cred.Algorithm]; !ok {
		return nil, nil, nil, fmt.Errorf("%w: %d", keystore.ErrUnsupportedAlgorithm, cred.Algorithm)
	}
	aik, _, err := s.attestationKey()
	if err != nil {
		return nil, nil, nil, err
	}
	return s.engine.certify(cred.PublicKey, aik, qualifyingData)
}

// Reset implements keystore.Keystore: it also unloads the attestation key
// and the hmac-secret key, whose blobs Reset deletes, so that new ones are
// made on next use.
func (s *Store) Reset() error {
	s.aikMu.Lock()
	defer s.aikMu.Unlock()
	oldHMACKey, err := s.GetBlob(soft.BlobHMACKey)
	if err != nil && !errors.Is(err, keystore.ErrNotFound) {
		return fmt.Errorf("tpm: reading the hmac-secret key: %w", err)
	}
	if err := s.Store.Reset(); err != nil {
		return err
	}
	old := s.aikBlob
	s.aikBlob, s.aikPub = nil, nil
	return errors.Join(s.engine.forgetKey(old), s.engine.forgetKey(oldHMACKey))
}

// Close implements keystore.Keystore: it closes the store, then flushes the
// TPM objects and closes the TPM. Closing twice is harmless.
func (s *Store) Close() error {
	return errors.Join(s.Store.Close(), s.engine.Close())
}

var (
	_ keystore.Keystore  = (*Store)(nil)
	_ soft.KeyEngine     = (*Engine)(nil)
	_ soft.InlineLimiter = (*Engine)(nil)
	_ soft.HMACEngine    = (*Engine)(nil)
	_ soft.Sealer        = (*Sealer)(nil)
)
