package attestation

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/vauth/vauth/keystore"
)

// Certificate extensions of FIDO attestation certificates.
var (
	// oidFIDOGenCeAAGUID is id-fido-gen-ce-aaguid: the AAGUID of the
	// authenticator model the attestation key belongs to (WebAuthn §8.2.1).
	oidFIDOGenCeAAGUID = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 45724, 1, 1, 4}
	// oidFIDOU2FTransports is id-fido-u2f-ce-transports: the transports the
	// authenticator speaks, a named BIT STRING (FIDO U2F Authenticator
	// Transports Extension).
	oidFIDOU2FTransports = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 45724, 2, 1, 1}
)

// Bits of id-fido-u2f-ce-transports.
const transportUSB = 2

// Attribute types of the subject name (RFC 5280 / X.520).
var (
	oidCountry            = asn1.ObjectIdentifier{2, 5, 4, 6}
	oidOrganization       = asn1.ObjectIdentifier{2, 5, 4, 10}
	oidOrganizationalUnit = asn1.ObjectIdentifier{2, 5, 4, 11}
	oidCommonName         = asn1.ObjectIdentifier{2, 5, 4, 3}
	oidSerialNumber       = asn1.ObjectIdentifier{2, 5, 4, 5}
)

// The subject of attestation certificates (WebAuthn §8.2.1).
const (
	// leafCountry is the ISO 3166 code §8.2.1 asks for in Subject-C.
	leafCountry = "US"
	// leafOU is the literal Subject-OU that §8.2.1 requires.
	leafOU         = "Authenticator Attestation"
	leafCommonName = "vauth Authenticator Attestation"
	leafValidity   = 10 * 365 * 24 * time.Hour
)

// noAAGUID is the zero AAGUID, which names no authenticator model (U2F).
var noAAGUID [16]byte

// leaf is an attestation key and its certificate.
type leaf struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

// leafKind says which attestation certificate a leaf is.
type leafKind int

const (
	// batchLeaf certifies the authenticator model (basic attestation).
	batchLeaf leafKind = iota
	// enterpriseLeaf certifies this very authenticator: its subject adds a
	// serial number unique to the device (enterprise attestation).
	enterpriseLeaf
)

// enterpriseCommonName is the Subject-CN of enterprise attestation
// certificates.
const enterpriseCommonName = "vauth Enterprise Attestation"

// leafBlobName names the blob that keeps the attestation key and
// certificate of one AAGUID.
func leafBlobName(aaguid [16]byte) string {
	return "attestation/leaf-" + FormatAAGUID(aaguid) + ".pem"
}

// enterpriseLeafBlobName names the blob that keeps the enterprise
// attestation key and certificate of one AAGUID.
func enterpriseLeafBlobName(aaguid [16]byte) string {
	return "attestation/enterprise-" + FormatAAGUID(aaguid) + ".pem"
}

// loadOrCreateLeaf returns the attestation key of aaguid certified by ca:
// the stored one while it is still valid and was issued by ca, otherwise a
// new one, which replaces it in store. The zero AAGUID names no
// authenticator model: its certificate carries no AAGUID extension, which is
// what U2F attestation uses (see U2F).
func loadOrCreateLeaf(store BlobStore, ca *CA, aaguid [16]byte) (*leaf, error) {
	return loadOrCreateLeafOf(batchLeaf, store, ca, aaguid)
}

// loadOrCreateLeafOf is loadOrCreateLeaf for either kind of leaf.
func loadOrCreateLeafOf(kind leafKind, store BlobStore, ca *CA, aaguid [16]byte) (*leaf, error) {
	name := leafBlobName(aaguid)
	if kind == enterpriseLeaf {
		name = enterpriseLeafBlobName(aaguid)
	}
	data, err := store.GetBlob(name)
	switch {
	case err == nil:
		// A stored leaf that is unreadable, expired or issued by another CA
		// is replaced below.
		if l, err := parseLeaf(data); err == nil && l.issuedFor(ca, aaguid, time.Now()) {
			return l, nil
		}
	case !errors.Is(err, keystore.ErrNotFound):
		return nil, fmt.Errorf("attestation: reading the attestation certificate: %w", err)
	}

	l, err := newLeaf(kind, ca, aaguid)
	if err != nil {
		return nil, err
	}
	data, err = encodeCertAndKey(l.cert.Raw, l.key)
	if err != nil {
		return nil, err
	}
	if err := store.PutBlob(name, data); err != nil {
		return nil, fmt.Errorf("attestation: storing the attestation certificate: %w", err)
	}
	return l, nil
}

// newLeaf makes an ES256 attestation key and its certificate for aaguid,
// issued by ca, meeting WebAuthn §8.2.1; for the zero AAGUID without the
// AAGUID extension. An enterprise leaf's subject names a random serial
// number, which identifies the device.
func newLeaf(kind leafKind, ca *CA, aaguid [16]byte) (*leaf, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("attestation: attestation key: %w", err)
	}
	commonName, serial := leafCommonName, ""
	if kind == enterpriseLeaf {
		b := make([]byte, 8)
		if _, err := rand.Read(b); err != nil {
			return nil, fmt.Errorf("attestation: device serial number: %w", err)
		}
		commonName, serial = enterpriseCommonName, hex.EncodeToString(b)
	}
	subject, err := leafSubject(commonName, serial)
	if err != nil {
		return nil, err
	}
	transportsExt, err := asn1.Marshal(asn1.BitString{Bytes: []byte{0x80 >> transportUSB}, BitLength: transportUSB + 1})
	if err != nil {
		return nil, fmt.Errorf("attestation: encoding the transports extension: %w", err)
	}
	extensions := []pkix.Extension{{Id: oidFIDOU2FTransports, Critical: false, Value: transportsExt}}
	if aaguid != noAAGUID {
		aaguidExt, err := asn1.Marshal(aaguid[:]) // an OCTET STRING of 16 bytes
		if err != nil {
			return nil, fmt.Errorf("attestation: encoding the AAGUID extension: %w", err)
		}
		extensions = append(extensions, pkix.Extension{Id: oidFIDOGenCeAAGUID, Critical: false, Value: aaguidExt})
	}
	now := time.Now()
	notAfter := now.Add(leafValidity)
	if notAfter.After(ca.cert.NotAfter) {
		notAfter = ca.cert.NotAfter
	}
	tmpl := &x509.Certificate{
		RawSubject:            subject,
		NotBefore:             now.Add(-notBeforeSlack),
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  false,
		ExtraExtensions:       extensions,
	}
	der, err := ca.Issue(tmpl, &key.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("attestation: attestation certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("attestation: attestation certificate: %w", err)
	}
	return &leaf{cert: cert, key: key}, nil
}

// leafSubject encodes the subject §8.2.1 requires, with the string types it
// names: C as a PrintableString, O, OU and CN as UTF8Strings (crypto/x509
// would pick PrintableString for all of them); then serialNumber (a
// PrintableString) when serial is not empty.
func leafSubject(commonName, serial string) ([]byte, error) {
	attr := func(oid asn1.ObjectIdentifier, tag int, v string) pkix.RelativeDistinguishedNameSET {
		return pkix.RelativeDistinguishedNameSET{{Type: oid, Value: asn1.RawValue{Tag: tag, Bytes: []byte(v)}}}
	}
	rdns := pkix.RDNSequence{
		attr(oidCountry, asn1.TagPrintableString, leafCountry),
		attr(oidOrganization, asn1.TagUTF8String, vendorName),
		attr(oidOrganizationalUnit, asn1.TagUTF8String, leafOU),
		attr(oidCommonName, asn1.TagUTF8String, commonName),
	}
	if serial != "" {
		rdns = append(rdns, attr(oidSerialNumber, asn1.TagPrintableString, serial))
	}
	der, err := asn1.Marshal(rdns)
	if err != nil {
		return nil, fmt.Errorf("attestation: encoding the certificate subject: %w", err)
	}
	return der, nil
}

// parseLeaf reads a stored attestation key and certificate.
func parseLeaf(data []byte) (*leaf, error) {
	block := findPEM(data, pemCertificate)
	if block == nil {
		return nil, errors.New("no CERTIFICATE PEM block")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, err
	}
	key, err := parseECKey(data)
	if err != nil {
		return nil, err
	}
	if !key.PublicKey.Equal(cert.PublicKey) {
		return nil, errors.New("key does not match the certificate")
	}
	return &leaf{cert: cert, key: key}, nil
}

// issuedFor reports whether l certifies aaguid (for the zero AAGUID: has no
// AAGUID extension), was signed by ca and is valid at now.
func (l *leaf) issuedFor(ca *CA, aaguid [16]byte, now time.Time) bool {
	got, ok := certAAGUID(l.cert)
	if aaguid == noAAGUID {
		ok = !slices.ContainsFunc(l.cert.Extensions, func(e pkix.Extension) bool { return e.Id.Equal(oidFIDOGenCeAAGUID) })
	}
	return ok && got == aaguid &&
		bytes.Equal(l.cert.RawIssuer, ca.cert.RawSubject) &&
		l.cert.CheckSignatureFrom(ca.cert) == nil &&
		!now.Before(l.cert.NotBefore) && !now.After(l.cert.NotAfter)
}

// certAAGUID returns the AAGUID in a certificate's id-fido-gen-ce-aaguid
// extension.
func certAAGUID(cert *x509.Certificate) ([16]byte, bool) {
	var aaguid [16]byte
	for _, ext := range cert.Extensions {
		if !ext.Id.Equal(oidFIDOGenCeAAGUID) {
			continue
		}
		var v []byte
		if rest, err := asn1.Unmarshal(ext.Value, &v); err != nil || len(rest) != 0 || len(v) != len(aaguid) {
			return aaguid, false
		}
		copy(aaguid[:], v)
		return aaguid, true
	}
	return aaguid, false
}
