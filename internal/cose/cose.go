// Package cose encodes and decodes the COSE_Key structures (RFC 9052/9053)
// that CTAP uses: credential public keys of every algorithm vauth offers
// (ES256, ES384, ES512, ES256K, EdDSA, RS256, PS256) and the P-256
// key-agreement keys of the PIN/UV auth protocols.
package cose

import (
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"errors"
	"fmt"
	"math/big"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"
	"github.com/fxamacker/cbor/v2"
)

// Key types, curves and algorithms (IANA COSE registries; secp256k1 and
// ES256K from RFC 8812 §3.2 and §4).
const (
	KtyOKP = 1
	KtyEC2 = 2
	KtyRSA = 3

	CrvP256      = 1
	CrvP384      = 2
	CrvP521      = 3
	CrvEd25519   = 6
	CrvSecp256k1 = 8

	AlgES256         = -7
	AlgEdDSA         = -8
	AlgECDHESHKDF256 = -25 // key agreement of the PIN/UV auth protocols
	AlgES384         = -35
	AlgES512         = -36
	AlgPS256         = -37
	AlgES256K        = -47
	AlgRS256         = -257
)

// COSE key-parameter labels (RFC 9052 §7.1, RFC 9053 §7.1 and §7.2,
// RFC 8230 §4 for RSA).
const (
	labelKty = 1
	labelAlg = 3
	labelCrv = -1 // EC2 and OKP
	labelX   = -2
	labelY   = -3
	labelN   = -1 // RSA
	labelE   = -2
)

// RSA limits: WebAuthn RPs meet 2048-bit keys (Windows Hello) and up to
// 4096; anything smaller is weak and anything larger is no credential key
// this side of a denial of service.
const (
	minRSABits = 2048
	maxRSABits = 4096
	maxRSAExp  = 1<<31 - 1 // crypto/rsa keeps E in an int
)

// Key is a COSE_Key of the kinds CTAP uses. EC2 keys fill Crv, X and Y;
// OKP keys Crv and X; RSA keys N and E (the big-endian modulus and
// exponent). It encodes in CTAP2 canonical CBOR (CTAP 2.1 §8).
type Key struct {
	Kty int
	Alg int
	Crv int
	X   []byte
	Y   []byte
	N   []byte
	E   []byte
}

// curve describes an elliptic curve a COSE key may name.
type curve struct {
	kty, crv  int
	alg       int // the signature algorithm of keys on this curve
	coordSize int
	ec        elliptic.Curve // the NIST curves only
}

var curves = []curve{
	{KtyEC2, CrvP256, AlgES256, 32, elliptic.P256()},
	{KtyEC2, CrvP384, AlgES384, 48, elliptic.P384()},
	{KtyEC2, CrvP521, AlgES512, 66, elliptic.P521()},
	{KtyEC2, CrvSecp256k1, AlgES256K, 32, nil},
	{KtyOKP, CrvEd25519, AlgEdDSA, ed25519.PublicKeySize, nil},
}

func curveByID(kty, crv int) (curve, bool) {
	for _, c := range curves {
		if c.kty == kty && c.crv == crv {
			return c, true
		}
	}
	return curve{}, false
}

func curveByEC(ec elliptic.Curve) (curve, bool) {
	for _, c := range curves {
		if c.ec != nil && c.ec == ec {
			return c, true
		}
	}
	return curve{}, false
}

var (
	encMode, _ = cbor.CTAP2EncOptions().EncMode()
	decMode, _ = cbor.DecOptions{MaxNestedLevels: 4, MaxMapPairs: 16, DupMapKey: cbor.DupMapKeyEnforcedAPF}.DecMode()
)

// ErrInvalidKey reports a COSE key that is malformed, not a point on its
// curve, or whose algorithm does not fit the key.
var ErrInvalidKey = errors.New("cose: invalid key")

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalidKey}, args...)...)
}

// FromPublicKey describes pub as a COSE key with algorithm alg. It takes
// *ecdsa.PublicKey and *ecdh.PublicKey on P-256, P-384 and P-521,
// *secp256k1.PublicKey (decred's), ed25519.PublicKey and *rsa.PublicKey;
// alg must fit the key (0 names none).
func FromPublicKey(pub crypto.PublicKey, alg int) (*Key, error) {
	var k *Key
	switch p := pub.(type) {
	case *ecdsa.PublicKey:
		if _, ok := curveByEC(p.Curve); !ok {
			return nil, invalid("ECDSA on curve %s is not supported", p.Curve.Params().Name)
		}
		e, err := p.ECDH()
		if err != nil {
			return nil, invalid("%v", err)
		}
		return FromPublicKey(e, alg)
	case *ecdh.PublicKey:
		var c curve
		switch p.Curve() {
		case ecdh.P256():
			c, _ = curveByID(KtyEC2, CrvP256)
		case ecdh.P384():
			c, _ = curveByID(KtyEC2, CrvP384)
		case ecdh.P521():
			c, _ = curveByID(KtyEC2, CrvP521)
		default:
			return nil, invalid("ECDH on %v is not supported", p.Curve())
		}
		b := p.Bytes() // 0x04 || X || Y
		k = &Key{Kty: KtyEC2, Alg: alg, Crv: c.crv, X: b[1 : 1+c.coordSize], Y: b[1+c.coordSize:]}
	case *secp256k1.PublicKey:
		b := p.SerializeUncompressed() // 0x04 || X || Y
		k = &Key{Kty: KtyEC2, Alg: alg, Crv: CrvSecp256k1, X: b[1:33], Y: b[33:]}
	case ed25519.PublicKey:
		k = &Key{Kty: KtyOKP, Alg: alg, Crv: CrvEd25519, X: append([]byte(nil), p...)}
	case *rsa.PublicKey:
		k = &Key{Kty: KtyRSA, Alg: alg, N: p.N.Bytes(), E: big.NewInt(int64(p.E)).Bytes()}
	default:
		return nil, invalid("unsupported public key type %T", pub)
	}
	if _, err := k.PublicKey(); err != nil {
		return nil, err
	}
	return k, nil
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
func (k *Key) Marshal() ([]byte, error) { return k.MarshalCBOR() }

// ecKeyCBOR and rsaKeyCBOR are the labels of an EC2 or OKP key and of an
// RSA key (RFC 9053 §7, RFC 8230 §4), which the encoder writes in CTAP2
// canonical order; a struct encodes several times faster than a map.
type ecKeyCBOR struct {
	Kty int    `cbor:"1,keyasint"`
	Alg int    `cbor:"3,keyasint,omitempty"`
	Crv int    `cbor:"-1,keyasint"`
	X   []byte `cbor:"-2,keyasint"`
	Y   []byte `cbor:"-3,keyasint,omitempty"` // none for OKP
}

type rsaKeyCBOR struct {
	Kty int    `cbor:"1,keyasint"`
	Alg int    `cbor:"3,keyasint,omitempty"`
	N   []byte `cbor:"-1,keyasint"`
	E   []byte `cbor:"-2,keyasint"`
}

// MarshalCBOR implements cbor.Marshaler: the labels of k's key type, in
// CTAP2 canonical order.
func (k *Key) MarshalCBOR() ([]byte, error) {
	if k.Kty == KtyRSA {
		return encMode.Marshal(rsaKeyCBOR{Kty: k.Kty, Alg: k.Alg, N: bytesOrEmpty(k.N), E: bytesOrEmpty(k.E)})
	}
	return encMode.Marshal(ecKeyCBOR{Kty: k.Kty, Alg: k.Alg, Crv: k.Crv, X: bytesOrEmpty(k.X), Y: k.Y})
}

func bytesOrEmpty(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// UnmarshalCBOR implements cbor.Unmarshaler. It checks the shape (a map
// with integer labels and values of the right CBOR types), not the key;
// Parse does both. Labels of no use to CTAP (kid, key_ops) are ignored.
func (k *Key) UnmarshalCBOR(data []byte) error {
	var m map[int]cbor.RawMessage
	if err := decMode.Unmarshal(data, &m); err != nil {
		return err
	}
	var out Key
	field := func(label int, v any) error {
		raw, ok := m[label]
		if !ok {
			return nil
		}
		if err := decMode.Unmarshal(raw, v); err != nil {
			return fmt.Errorf("COSE key label %d: %w", label, err)
		}
		return nil
	}
	if err := errors.Join(field(labelKty, &out.Kty), field(labelAlg, &out.Alg)); err != nil {
		return err
	}
	var err error
	if out.Kty == KtyRSA {
		err = errors.Join(field(labelN, &out.N), field(labelE, &out.E))
	} else {
		err = errors.Join(field(labelCrv, &out.Crv), field(labelX, &out.X), field(labelY, &out.Y))
	}
	if err != nil {
		return err
	}
	// An empty byte string is as good as none; keeping nil makes every
	// key have one decoded form.
	for _, b := range []*[]byte{&out.X, &out.Y, &out.N, &out.E} {
		if len(*b) == 0 {
			*b = nil
		}
	}
	*k = out
	return nil
}

// Parse decodes a COSE key and checks that it describes a valid public key
// that fits its algorithm.
func Parse(data []byte) (*Key, error) {
	var k Key
	if err := decMode.Unmarshal(data, &k); err != nil {
		return nil, invalid("%v", err)
	}
	if _, err := k.PublicKey(); err != nil {
		return nil, err
	}
	return &k, nil
}

// PublicKey returns k as *ecdsa.PublicKey (EC2 on P-256, P-384 or P-521),
// *secp256k1.PublicKey (EC2 on secp256k1: crypto/ecdsa has no such
// curve), ed25519.PublicKey (OKP, Ed25519) or *rsa.PublicKey, after
// checking the point or the modulus and that k.Alg, when set, is the
// algorithm of such a key.
func (k *Key) PublicKey() (crypto.PublicKey, error) {
	if err := k.checkAlg(); err != nil {
		return nil, err
	}
	if k.Kty == KtyRSA {
		return k.rsaKey()
	}
	c, ok := curveByID(k.Kty, k.Crv)
	if !ok {
		return nil, invalid("key type %d on curve %d", k.Kty, k.Crv)
	}
	if c.kty == KtyOKP { // Ed25519: any 32 bytes; a bad encoding fails to verify
		if len(k.X) != ed25519.PublicKeySize || len(k.Y) != 0 {
			return nil, invalid("Ed25519 key of %d bytes", len(k.X))
		}
		return ed25519.PublicKey(append([]byte(nil), k.X...)), nil
	}
	if len(k.X) != c.coordSize || len(k.Y) != c.coordSize {
		return nil, invalid("curve %d coordinates must be %d bytes", c.crv, c.coordSize)
	}
	point := make([]byte, 0, 1+2*c.coordSize)
	point = append(append(append(point, 4), k.X...), k.Y...)
	if c.crv == CrvSecp256k1 {
		pub, err := secp256k1.ParsePubKey(point)
		if err != nil {
			return nil, invalid("%v", err)
		}
		return pub, nil
	}
	pub, err := ecdsa.ParseUncompressedPublicKey(c.ec, point)
	if err != nil {
		return nil, invalid("%v", err)
	}
	return pub, nil
}

// checkAlg checks that k.Alg is 0 or the algorithm of k's key type and
// curve: ES384 keys are on P-384 only and so on (RFC 9053 §2.1, RFC 8812
// §3.2 and §4). P-256 keys also carry the PIN/UV key-agreement algorithm.
func (k *Key) checkAlg() error {
	switch k.Alg {
	case 0:
		return nil
	case AlgRS256, AlgPS256:
		if k.Kty == KtyRSA {
			return nil
		}
	case AlgECDHESHKDF256:
		if k.Kty == KtyEC2 && k.Crv == CrvP256 {
			return nil
		}
	default:
		if c, ok := curveByID(k.Kty, k.Crv); ok && c.alg == k.Alg {
			return nil
		}
	}
	return invalid("algorithm %d does not fit key type %d on curve %d", k.Alg, k.Kty, k.Crv)
}

// rsaKey checks and returns an RSA key: a modulus of minRSABits to
// maxRSABits with no leading zero bytes, and an odd exponent from 3 to
// maxRSAExp, minimally encoded (RFC 8230 §4 asks for the minimum number of
// bytes).
func (k *Key) rsaKey() (crypto.PublicKey, error) {
	if len(k.N) == 0 || k.N[0] == 0 || len(k.E) == 0 || k.E[0] == 0 {
		return nil, invalid("RSA modulus or exponent missing or not minimally encoded")
	}
	n := new(big.Int).SetBytes(k.N)
	if bits := n.BitLen(); bits < minRSABits || bits > maxRSABits || n.Bit(0) == 0 {
		return nil, invalid("RSA modulus of %d bits (or even); want an odd one of %d to %d", bits, minRSABits, maxRSABits)
	}
	e := new(big.Int).SetBytes(k.E)
	if !e.IsInt64() || e.Int64() < 3 || e.Int64() > maxRSAExp || e.Bit(0) == 0 {
		return nil, invalid("RSA exponent %v out of range", e)
	}
	return &rsa.PublicKey{N: n, E: int(e.Int64())}, nil
}

// ECDH returns an EC2 P-256 key as an ECDH public key, as the PIN/UV auth
// protocols use it; a point not on the curve is an error.
func (k *Key) ECDH() (*ecdh.PublicKey, error) {
	if k.Kty != KtyEC2 || k.Crv != CrvP256 {
		return nil, invalid("not an EC2 P-256 key")
	}
	pub, err := k.PublicKey()
	if err != nil {
		return nil, err
	}
	e, err := pub.(*ecdsa.PublicKey).ECDH()
	if err != nil {
		return nil, invalid("%v", err)
	}
	return e, nil
}
