package attestation

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"time"

	"github.com/vauth/vauth/keystore"
)

// BlobStore keeps named pieces of device state; keystore.Keystore satisfies
// it. GetBlob returns keystore.ErrNotFound for a name never stored.
type BlobStore interface {
	GetBlob(name string) ([]byte, error)
	PutBlob(name string, data []byte) error
}

// blobCA names the blob that holds vauth's own CA, certificate and key, as
// PEM.
const blobCA = "attestation/ca.pem"

// PEM block types.
const (
	pemCertificate = "CERTIFICATE"
	pemPKCS8Key    = "PRIVATE KEY"
	pemSEC1Key     = "EC PRIVATE KEY"
)

// What vauth puts in the certificates it makes.
const (
	vendorName   = "vauth"
	caCommonName = "vauth Attestation Root CA"
	caValidity   = 30 * 365 * 24 * time.Hour
	// notBeforeSlack backdates new certificates, so that a relying party
	// whose clock is a little behind does not see them as not yet valid.
	notBeforeSlack = time.Hour
)

// CA is an attestation certificate authority: it certifies the attestation
// keys of basic attestation. Relying parties that want to trust vauth's
// attestation add its certificate (PEM) to their trust anchors.
type CA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

// Certificate returns the CA's certificate.
func (ca *CA) Certificate() *x509.Certificate { return ca.cert }

// PEM returns the CA's certificate in PEM form, for relying parties to trust.
func (ca *CA) PEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: pemCertificate, Bytes: ca.cert.Raw})
}

// LoadOrCreateCA returns vauth's own attestation CA, kept in store: a
// self-signed ECDSA P-256 root made on first use, so that it is the same
// across restarts and relying parties can pin it once.
func LoadOrCreateCA(store BlobStore) (*CA, error) {
	return LoadOrCreateRoot(store, blobCA, caCommonName)
}

// LoadOrCreateRoot is LoadOrCreateCA for a root of another purpose (the
// metadata BLOB's, internal/mds): kept in store under the blob name, made
// on first use with commonName.
func LoadOrCreateRoot(store BlobStore, name, commonName string) (*CA, error) {
	data, err := store.GetBlob(name)
	switch {
	case err == nil:
		ca, err := LoadCA(data, data)
		if err != nil {
			return nil, fmt.Errorf("attestation: stored CA: %w", err)
		}
		return ca, nil
	case !errors.Is(err, keystore.ErrNotFound):
		return nil, fmt.Errorf("attestation: reading the CA: %w", err)
	}

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("attestation: CA key: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		Subject:               pkix.Name{Organization: []string{vendorName}, CommonName: commonName},
		NotBefore:             now.Add(-notBeforeSlack),
		NotAfter:              now.Add(caValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true, // it certifies attestation keys, never another CA
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("attestation: CA certificate: %w", err)
	}
	data, err = encodeCertAndKey(der, key)
	if err != nil {
		return nil, err
	}
	if err := store.PutBlob(name, data); err != nil {
		return nil, fmt.Errorf("attestation: storing the CA: %w", err)
	}
	return LoadCA(data, data)
}

// Issue signs a certificate made from tmpl for pub with the CA's key and
// returns it in DER.
func (ca *CA) Issue(tmpl *x509.Certificate, pub crypto.PublicKey) ([]byte, error) {
	return x509.CreateCertificate(rand.Reader, tmpl, ca.cert, pub, ca.key)
}

// LoadCA returns a CA the user supplies: the first certificate in certPEM
// and the first private key in keyPEM (PKCS#8 or SEC1; both may be the same
// file). The key must be ECDSA P-256 or P-384 and match the certificate, and
// the certificate must be a current CA certificate allowed to sign
// certificates.
func LoadCA(certPEM, keyPEM []byte) (*CA, error) {
	block := findPEM(certPEM, pemCertificate)
	if block == nil {
		return nil, errors.New("attestation: no CERTIFICATE PEM block in the CA certificate")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("attestation: CA certificate: %w", err)
	}
	key, err := parseECKey(keyPEM)
	if err != nil {
		return nil, fmt.Errorf("attestation: CA key: %w", err)
	}
	if c := key.Curve; c != elliptic.P256() && c != elliptic.P384() {
		return nil, fmt.Errorf("attestation: CA key is on curve %s; want P-256 or P-384", c.Params().Name)
	}
	if !key.PublicKey.Equal(cert.PublicKey) {
		return nil, errors.New("attestation: CA key does not match the CA certificate")
	}
	if !cert.BasicConstraintsValid || !cert.IsCA {
		return nil, errors.New("attestation: CA certificate is not a CA (basic constraints CA:true missing)")
	}
	if cert.KeyUsage != 0 && cert.KeyUsage&x509.KeyUsageCertSign == 0 {
		return nil, errors.New("attestation: CA certificate lacks the keyCertSign key usage")
	}
	if now := time.Now(); now.Before(cert.NotBefore) || now.After(cert.NotAfter) {
		return nil, fmt.Errorf("attestation: CA certificate is valid only from %s to %s",
			cert.NotBefore.Format(time.RFC3339), cert.NotAfter.Format(time.RFC3339))
	}
	return &CA{cert: cert, key: key}, nil
}

// findPEM returns the first PEM block of one of the given types in data.
func findPEM(data []byte, types ...string) *pem.Block {
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return nil
		}
		for _, t := range types {
			if block.Type == t {
				return block
			}
		}
	}
}

// parseECKey reads the first ECDSA private key, PKCS#8 or SEC1, in keyPEM.
func parseECKey(keyPEM []byte) (*ecdsa.PrivateKey, error) {
	block := findPEM(keyPEM, pemPKCS8Key, pemSEC1Key)
	if block == nil {
		return nil, errors.New("no PRIVATE KEY or EC PRIVATE KEY PEM block")
	}
	if block.Type == pemSEC1Key {
		return x509.ParseECPrivateKey(block.Bytes)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, err
	}
	key, ok := k.(*ecdsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("key is %T; want an ECDSA key", k)
	}
	return key, nil
}

// encodeCertAndKey writes a certificate and its key (PKCS#8) as one PEM
// bundle, the form blobs keep them in.
func encodeCertAndKey(certDER []byte, key *ecdsa.PrivateKey) ([]byte, error) {
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("attestation: encoding key: %w", err)
	}
	var buf bytes.Buffer
	for _, b := range []*pem.Block{{Type: pemCertificate, Bytes: certDER}, {Type: pemPKCS8Key, Bytes: keyDER}} {
		if err := pem.Encode(&buf, b); err != nil {
			return nil, fmt.Errorf("attestation: encoding PEM: %w", err)
		}
	}
	return buf.Bytes(), nil
}
