package soft

import (
	"cmp"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"fmt"
	"slices"
	"strings"

	bolt "go.etcd.io/bbolt"

	"github.com/vauth/vauth/keystore"
)

// keyImporter is an engine that can take in a private key made elsewhere:
// the software Engine. The TPM engine cannot: its keys are born in the TPM
// and never leave it.
type keyImporter interface {
	importKey(key crypto.PrivateKey, alg int) (int, crypto.PublicKey, []byte, error)
}

// importKey implements keyImporter: an ECDSA key on P-256, P-384 or P-521
// (ES256, ES384, ES512), an Ed25519 key (EdDSA) or an RSA key of the
// engine's size or 2048 bits with two primes and e = 65537 (RS256, or
// PS256 when alg says so) becomes the blob Generate would have made for
// it. alg 0 takes the key's usual algorithm.
func (e *Engine) importKey(key crypto.PrivateKey, alg int) (int, crypto.PublicKey, []byte, error) {
	want := func(usual int, also ...int) (int, error) {
		if alg == 0 || alg == usual || slices.Contains(also, alg) {
			return cmp.Or(alg, usual), nil
		}
		return 0, fmt.Errorf("%w: a %T cannot make %s credentials", keystore.ErrUnsupportedAlgorithm, key, keystore.AlgorithmName(alg))
	}
	var err error
	switch k := key.(type) {
	case *ecdsa.PrivateKey:
		usual := map[elliptic.Curve]int{elliptic.P256(): keystore.ES256, elliptic.P384(): keystore.ES384, elliptic.P521(): keystore.ES512}[k.Curve]
		if usual == 0 {
			return 0, nil, nil, fmt.Errorf("%w: ECDSA on %s (want P-256, P-384 or P-521)", keystore.ErrUnsupportedAlgorithm, k.Curve.Params().Name)
		}
		if alg, err = want(usual); err != nil {
			return 0, nil, nil, err
		}
		raw, err := k.Bytes()
		if err != nil {
			return 0, nil, nil, fmt.Errorf("soft: encode ECDSA key: %w", err)
		}
		blob := append([]byte{softBlobVersion}, raw...)
		clear(raw)
		pub := k.PublicKey
		return alg, &pub, blob, nil
	case ed25519.PrivateKey:
		if len(k) != ed25519.PrivateKeySize {
			return 0, nil, nil, fmt.Errorf("soft: Ed25519 private key of %d bytes", len(k))
		}
		if alg, err = want(keystore.EdDSA); err != nil {
			return 0, nil, nil, err
		}
		return alg, k.Public(), append([]byte{softBlobVersion}, k...), nil
	case *rsa.PrivateKey:
		if alg, err = want(keystore.RS256, keystore.PS256); err != nil {
			return 0, nil, nil, err
		}
		bits := k.N.BitLen()
		half := bits / 16
		if (bits != DefaultRSABits && bits != e.rsaBits) || k.E != rsaExponent || len(k.Primes) != 2 ||
			k.Primes[0].BitLen() > 8*half || k.Primes[1].BitLen() > 8*half {
			return 0, nil, nil, fmt.Errorf("%w: RSA key of %d bits, e = %d, %d primes (want %d or %d bits, e = %d, two primes of equal size)",
				keystore.ErrUnsupportedAlgorithm, bits, k.E, len(k.Primes), DefaultRSABits, e.rsaBits, rsaExponent)
		}
		blob := make([]byte, 1+2*half)
		blob[0] = softBlobVersion
		k.Primes[0].FillBytes(blob[1 : 1+half])
		k.Primes[1].FillBytes(blob[1+half:])
		if _, err := rsaFromPrimes(blob[1:]); err != nil {
			return 0, nil, nil, fmt.Errorf("%w: the RSA key does not check out", keystore.ErrUnsupportedAlgorithm)
		}
		return alg, &k.PublicKey, blob, nil
	}
	return 0, nil, nil, fmt.Errorf("%w: %T keys (want ECDSA, Ed25519 or RSA)", keystore.ErrUnsupportedAlgorithm, key)
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
	alg, pub, blob, err := ki.importKey(req.PrivateKey, req.Algorithm)
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
	if rec == nil && req.SignCount == 0 {
		return c, nil // like a new one: nothing on disk until its first use
	}
	var replaced [][]byte
	err = s.db.Update(func(tx *bolt.Tx) error {
		if rec != nil {
			var err error
			if replaced, err = s.put(tx, c, rec); err != nil {
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
