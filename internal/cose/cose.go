// Package cose encodes and decodes the COSE_Key structures (RFC 9052/9053)
// that CTAP uses: credential public keys (ES256 on P-256, EdDSA on Ed25519)
// and the P-256 key-agreement keys of the PIN/UV auth protocols.
package cose

import (
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"errors"
	"fmt"

	"github.com/fxamacker/cbor/v2"
)

// Key types, curves and algorithms (IANA COSE registries).
const (
	KtyOKP = 1
	KtyEC2 = 2

	CrvP256    = 1
	CrvEd25519 = 6

	AlgES256           = -7
	AlgEdDSA           = -8
	AlgECDHESHKDF256   = -25 // key agreement of the PIN/UV auth protocols
	coordinateSizeP256 = 32
)

// Key is a COSE_Key of the kinds CTAP uses. The struct tags are the COSE
// key-parameter labels.
type Key struct {
	Kty int    `cbor:"1,keyasint"`
	Alg int    `cbor:"3,keyasint,omitempty"`
	Crv int    `cbor:"-1,keyasint"`
	X   []byte `cbor:"-2,keyasint"`
	Y   []byte `cbor:"-3,keyasint,omitempty"`
}

var (
	encMode, _ = cbor.CTAP2EncOptions().EncMode()
	decMode, _ = cbor.DecOptions{MaxNestedLevels: 4, MaxMapPairs: 16, DupMapKey: cbor.DupMapKeyEnforcedAPF}.DecMode()
)

// ErrInvalidKey reports a COSE key that is malformed or not a point on its
// curve.
var ErrInvalidKey = errors.New("cose: invalid key")

// FromPublicKey describes pub as a COSE key with algorithm alg. It takes
// *ecdsa.PublicKey and *ecdh.PublicKey on P-256 and ed25519.PublicKey.
func FromPublicKey(pub crypto.PublicKey, alg int) (*Key, error) {
	switch p := pub.(type) {
	case *ecdsa.PublicKey:
		e, err := p.ECDH()
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrInvalidKey, err)
		}
		return FromPublicKey(e, alg)
	case *ecdh.PublicKey:
		if p.Curve() != ecdh.P256() {
			return nil, fmt.Errorf("%w: only P-256 is supported", ErrInvalidKey)
		}
		b := p.Bytes() // 0x04 || X || Y
		return &Key{Kty: KtyEC2, Alg: alg, Crv: CrvP256, X: b[1 : 1+coordinateSizeP256], Y: b[1+coordinateSizeP256:]}, nil
	case ed25519.PublicKey:
		return &Key{Kty: KtyOKP, Alg: alg, Crv: CrvEd25519, X: append([]byte(nil), p...)}, nil
	}
	return nil, fmt.Errorf("%w: unsupported public key type %T", ErrInvalidKey, pub)
}

// Marshal encodes pub as a COSE key in CTAP2 canonical CBOR.
func Marshal(pub crypto.PublicKey, alg int) ([]byte, error) {
	k, err := FromPublicKey(pub, alg)
	if err != nil {
		return nil, err
	}
	return k.Marshal()
}

// Marshal encodes k in CTAP2 canonical CBOR.
func (k *Key) Marshal() ([]byte, error) { return encMode.Marshal(k) }

// Parse decodes a COSE key and checks that it describes a valid public key.
func Parse(data []byte) (*Key, error) {
	var k Key
	if err := decMode.Unmarshal(data, &k); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidKey, err)
	}
	if _, err := k.PublicKey(); err != nil {
		return nil, err
	}
	return &k, nil
}

// PublicKey returns k as *ecdsa.PublicKey (EC2, P-256) or ed25519.PublicKey
// (OKP, Ed25519), after checking the point.
func (k *Key) PublicKey() (crypto.PublicKey, error) {
	switch {
	case k.Kty == KtyEC2 && k.Crv == CrvP256:
		e, err := k.ECDH()
		if err != nil {
			return nil, err
		}
		pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), e.Bytes())
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrInvalidKey, err)
		}
		return pub, nil
	case k.Kty == KtyOKP && k.Crv == CrvEd25519:
		if len(k.X) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("%w: Ed25519 key of %d bytes", ErrInvalidKey, len(k.X))
		}
		return ed25519.PublicKey(append([]byte(nil), k.X...)), nil
	}
	return nil, fmt.Errorf("%w: key type %d on curve %d", ErrInvalidKey, k.Kty, k.Crv)
}

// ECDH returns an EC2 P-256 key as an ECDH public key, as the PIN/UV auth
// protocols use it; a point not on the curve is an error.
func (k *Key) ECDH() (*ecdh.PublicKey, error) {
	if k.Kty != KtyEC2 || k.Crv != CrvP256 {
		return nil, fmt.Errorf("%w: not an EC2 P-256 key", ErrInvalidKey)
	}
	if len(k.X) != coordinateSizeP256 || len(k.Y) != coordinateSizeP256 {
		return nil, fmt.Errorf("%w: P-256 coordinates must be 32 bytes", ErrInvalidKey)
	}
	point := make([]byte, 0, 1+2*coordinateSizeP256)
	point = append(append(append(point, 4), k.X...), k.Y...)
	pub, err := ecdh.P256().NewPublicKey(point)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidKey, err)
	}
	return pub, nil
}
