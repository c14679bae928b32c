package cose

import (
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"
)

// Object identifiers of an EC public key on secp256k1 (RFC 5480 §2.1.1,
// SEC 2 §A.2.1), which crypto/x509 does not know.
var (
	oidECPublicKey = asn1.ObjectIdentifier{1, 2, 840, 10045, 2, 1}
	oidSecp256k1   = asn1.ObjectIdentifier{1, 3, 132, 0, 10}
)

type subjectPublicKeyInfo struct {
	Algorithm pkix.AlgorithmIdentifier
	PublicKey asn1.BitString
}

// MarshalPKIX encodes pub as a DER SubjectPublicKeyInfo, as
// x509.MarshalPKIXPublicKey does, and also a *secp256k1.PublicKey.
func MarshalPKIX(pub crypto.PublicKey) ([]byte, error) {
	p, ok := pub.(*secp256k1.PublicKey)
	if !ok {
		return x509.MarshalPKIXPublicKey(pub)
	}
	curve, err := asn1.Marshal(oidSecp256k1)
	if err != nil {
		return nil, err
	}
	point := p.SerializeUncompressed()
	return asn1.Marshal(subjectPublicKeyInfo{
		Algorithm: pkix.AlgorithmIdentifier{Algorithm: oidECPublicKey, Parameters: asn1.RawValue{FullBytes: curve}},
		PublicKey: asn1.BitString{Bytes: point, BitLength: 8 * len(point)},
	})
}

// ParsePKIX decodes a DER SubjectPublicKeyInfo, as x509.ParsePKIXPublicKey
// does, and also an EC key on secp256k1 (as a *secp256k1.PublicKey).
func ParsePKIX(der []byte) (crypto.PublicKey, error) {
	pub, err := x509.ParsePKIXPublicKey(der)
	if err == nil {
		return pub, nil
	}
	var spki subjectPublicKeyInfo
	var curve asn1.ObjectIdentifier
	if rest, aerr := asn1.Unmarshal(der, &spki); aerr != nil || len(rest) != 0 ||
		!spki.Algorithm.Algorithm.Equal(oidECPublicKey) {
		return nil, err
	}
	if rest, aerr := asn1.Unmarshal(spki.Algorithm.Parameters.FullBytes, &curve); aerr != nil || len(rest) != 0 || !curve.Equal(oidSecp256k1) {
		return nil, err
	}
	if spki.PublicKey.BitLength != 8*len(spki.PublicKey.Bytes) || len(spki.PublicKey.Bytes) == 0 || spki.PublicKey.Bytes[0] != 4 {
		return nil, errors.New("cose: secp256k1 public key is not an uncompressed point")
	}
	k, err := secp256k1.ParsePubKey(spki.PublicKey.Bytes)
	if err != nil {
		return nil, fmt.Errorf("cose: secp256k1 public key: %w", err)
	}
	return k, nil
}
