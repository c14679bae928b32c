package attestation

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/vauth/vauth/keystore"
)

// FormatTPM is the TPM attestation statement format (WebAuthn §8.3).
const FormatTPM = "tpm"

// Keys of a tpm attStmt (WebAuthn §8.3) besides alg, sig and x5c.
const (
	stmtVer      = "ver"
	stmtCertInfo = "certInfo"
	stmtPubArea  = "pubArea"
)

// tpmStmtVersion is attStmt ver: the TPM specification version.
const tpmStmtVersion = "2.0"

// Object identifiers of the AIK certificate (WebAuthn §8.3.1, TCG EK
// Credential Profile §3.2.9).
var (
	oidSubjectAltName = asn1.ObjectIdentifier{2, 5, 29, 17}
	// tcg-at-tpmManufacturer, tcg-at-tpmModel, tcg-at-tpmVersion: the
	// attributes of the TPM's directoryName in the SAN.
	oidTPMManufacturer = asn1.ObjectIdentifier{2, 23, 133, 2, 1}
	oidTPMModel        = asn1.ObjectIdentifier{2, 23, 133, 2, 2}
	oidTPMVersion      = asn1.ObjectIdentifier{2, 23, 133, 2, 3}
	// oidAIKCertificate is tcg-kp-AIKCertificate, the extended key usage
	// §8.3.1 requires.
	oidAIKCertificate = asn1.ObjectIdentifier{2, 23, 133, 8, 3}
)

// sanDirectoryName is the GeneralName tag of a directoryName ([4], explicit
// because Name is a CHOICE).
const sanDirectoryName = 4

// TPMCertifier is a keystore whose credential keys live in a TPM that
// certifies them with an attestation key; keystore/tpm's Store is one.
type TPMCertifier interface {
	// AttestationKey returns the public key of the TPM attestation key
	// (AIK), which stays the same across restarts.
	AttestationKey() (crypto.PublicKey, error)
	// TPMInfo returns the TPM's TPM_PT_MANUFACTURER vendor ID, its model
	// (vendor string) and its firmware version.
	TPMInfo() (manufacturer uint32, model string, firmwareVersion uint64, err error)
	// Certify has the attestation key certify the credential's key
	// (TPM2_Certify) with qualifyingData as extraData. certInfo is the
	// TPMS_ATTEST, sig the attestation key's ECDSA-SHA256 signature over it
	// in ASN.1 DER, pubArea the credential key's TPMT_PUBLIC.
	Certify(cred *keystore.Credential, qualifyingData []byte) (certInfo, sig, pubArea []byte, err error)
}

// errNeedsTPM: the tpm format needs the credential keys in a TPM.
var errNeedsTPM = errors.New("attestation: --attestation tpm needs --keystore tpm (the TPM itself must certify the credential keys)")

// TPM returns the attester of the tpm format (WebAuthn §8.3): the TPM's
// attestation key certifies each new credential key with TPM2_Certify, over
// the hash of authenticatorData || clientDataHash, and x5c carries the
// attestation key's certificate from ca (§8.3.1: empty subject, the TPM's
// manufacturer, model and version in a critical SAN, the AIK extended key
// usage, the AAGUID). The certificate is made on first use and kept in
// store; it is made again when the attestation key, the TPM, the AAGUID or
// the CA changes. Attest needs a keystore that is a TPMCertifier.
func TPM(ca *CA, aaguid [16]byte, store BlobStore) Attester {
	return &tpmAttester{ca: ca, aaguid: aaguid, store: store}
}

type tpmAttester struct {
	ca     *CA
	aaguid [16]byte
	store  BlobStore

	mu   sync.Mutex
	cert *x509.Certificate // the AIK certificate last made or loaded
}

// aikBlobName names the blob that keeps the AIK certificate of one AAGUID.
func aikBlobName(aaguid [16]byte) string {
	return "attestation/aik-" + FormatAAGUID(aaguid) + ".pem"
}

// certificate returns the certificate of c's attestation key: the one in
// memory or in the store while it still certifies that key on that TPM for
// this AAGUID, from this CA, and is valid; otherwise a new one, which
// replaces it in the store.
func (a *tpmAttester) certificate(c TPMCertifier) (*x509.Certificate, error) {
	if a.ca == nil || a.store == nil {
		return nil, errors.New("attestation: tpm attestation needs a CA and a store")
	}
	pub, err := c.AttestationKey()
	if err != nil {
		return nil, fmt.Errorf("attestation: TPM attestation key: %w", err)
	}
	manufacturer, model, version, err := c.TPMInfo()
	if err != nil {
		return nil, fmt.Errorf("attestation: TPM identity: %w", err)
	}
	san, err := tpmSAN(manufacturer, model, version)
	if err != nil {
		return nil, err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.cert != nil && a.certifies(a.cert, pub, san) {
		return a.cert, nil
	}
	name := aikBlobName(a.aaguid)
	data, err := a.store.GetBlob(name)
	switch {
	case err == nil:
		// A stored certificate that is unreadable or certifies something
		// else is replaced below.
		if block := findPEM(data, pemCertificate); block != nil {
			if cert, err := x509.ParseCertificate(block.Bytes); err == nil && a.certifies(cert, pub, san) {
				a.cert = cert
				return cert, nil
			}
		}
	case !errors.Is(err, keystore.ErrNotFound):
		return nil, fmt.Errorf("attestation: reading the AIK certificate: %w", err)
	}
	cert, err := newAIKCertificate(a.ca, a.aaguid, pub, san)
	if err != nil {
		return nil, err
	}
	if err := a.store.PutBlob(name, pem.EncodeToMemory(&pem.Block{Type: pemCertificate, Bytes: cert.Raw})); err != nil {
		return nil, fmt.Errorf("attestation: storing the AIK certificate: %w", err)
	}
	a.cert = cert
	return cert, nil
}

// certifies reports whether cert is a current certificate from a.ca for
// a.aaguid of the attestation key pub on the TPM that san names.
func (a *tpmAttester) certifies(cert *x509.Certificate, pub crypto.PublicKey, san []byte) bool {
	k, ok := cert.PublicKey.(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !k.Equal(pub) {
		return false
	}
	found := false
	for _, ext := range cert.Extensions {
		if ext.Id.Equal(oidSubjectAltName) {
			found = bytes.Equal(ext.Value, san)
		}
	}
	return found && (&leaf{cert: cert}).issuedFor(a.ca, a.aaguid, time.Now())
}

// tpmSAN encodes the subject alternative name of an AIK certificate: one
// directoryName with the TPM's manufacturer ("id:" and the vendor ID in
// hex), model and version ("id:" and TPM_PT_FIRMWARE_VERSION_1 in hex), as
// UTF8Strings.
func tpmSAN(manufacturer uint32, model string, firmwareVersion uint64) ([]byte, error) {
	if model == "" {
		model = "TPM" // the TPM reports no vendor string; verifiers want one
	}
	attr := func(oid asn1.ObjectIdentifier, v string) pkix.RelativeDistinguishedNameSET {
		return pkix.RelativeDistinguishedNameSET{{Type: oid, Value: asn1.RawValue{Tag: asn1.TagUTF8String, Bytes: []byte(v)}}}
	}
	name, err := asn1.Marshal(pkix.RDNSequence{
		attr(oidTPMManufacturer, fmt.Sprintf("id:%08X", manufacturer)),
		attr(oidTPMModel, model),
		attr(oidTPMVersion, fmt.Sprintf("id:%08X", firmwareVersion>>32)),
	})
	if err != nil {
		return nil, fmt.Errorf("attestation: encoding the TPM's name: %w", err)
	}
	san, err := asn1.Marshal([]asn1.RawValue{{Class: asn1.ClassContextSpecific, Tag: sanDirectoryName, IsCompound: true, Bytes: name}})
	if err != nil {
		return nil, fmt.Errorf("attestation: encoding the AIK certificate SAN: %w", err)
	}
	return san, nil
}

// newAIKCertificate certifies the attestation key pub as §8.3.1 requires:
// version 3, an empty subject, the critical SAN san, the
// tcg-kp-AIKCertificate extended key usage, CA false, and the AAGUID (the
// CA certifies keys of any AAGUID vauth is given).
func newAIKCertificate(ca *CA, aaguid [16]byte, pub crypto.PublicKey, san []byte) (*x509.Certificate, error) {
	aaguidExt, err := asn1.Marshal(aaguid[:])
	if err != nil {
		return nil, fmt.Errorf("attestation: encoding the AAGUID extension: %w", err)
	}
	now := time.Now()
	notAfter := now.Add(leafValidity)
	if notAfter.After(ca.cert.NotAfter) {
		notAfter = ca.cert.NotAfter
	}
	tmpl := &x509.Certificate{
		NotBefore:             now.Add(-notBeforeSlack),
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		UnknownExtKeyUsage:    []asn1.ObjectIdentifier{oidAIKCertificate},
		BasicConstraintsValid: true,
		IsCA:                  false,
		ExtraExtensions: []pkix.Extension{
			// Critical: the subject is empty (RFC 5280 §4.2.1.6).
			{Id: oidSubjectAltName, Critical: true, Value: san},
			{Id: oidFIDOGenCeAAGUID, Critical: false, Value: aaguidExt},
		},
	}
	der, err := ca.Issue(tmpl, pub)
	if err != nil {
		return nil, fmt.Errorf("attestation: AIK certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("attestation: AIK certificate: %w", err)
	}
	return cert, nil
}

func (a *tpmAttester) Attest(ks keystore.Keystore, cred *keystore.Credential, authData, clientDataHash []byte) (Statement, error) {
	c, ok := ks.(TPMCertifier)
	if !ok {
		backend := "no"
		if ks != nil {
			backend = "the " + ks.Backend()
		}
		return Statement{}, fmt.Errorf("%w; this authenticator has %s keystore", errNeedsTPM, backend)
	}
	if cred == nil {
		return Statement{}, errors.New("attestation: tpm attestation needs a credential")
	}
	if got, ok := authDataAAGUID(authData); ok && got != a.aaguid {
		return Statement{}, fmt.Errorf("attestation: authenticator data carries AAGUID %s but the AIK certificate is for %s",
			FormatAAGUID(got), FormatAAGUID(a.aaguid))
	}
	cert, err := a.certificate(c)
	if err != nil {
		return Statement{}, err
	}
	// extraData is the hash of attToBeSigned with the hash of alg (ES256:
	// SHA-256).
	extraData := sha256.Sum256(signedData(authData, clientDataHash))
	certInfo, sig, pubArea, err := c.Certify(cred, extraData[:])
	if err != nil {
		return Statement{}, fmt.Errorf("attestation: TPM2_Certify: %w", err)
	}
	return Statement{Format: FormatTPM, AttStmt: map[string]any{
		stmtVer:      tpmStmtVersion,
		stmtAlg:      keystore.ES256,
		stmtX5C:      [][]byte{cert.Raw},
		stmtSig:      sig,
		stmtCertInfo: certInfo,
		stmtPubArea:  pubArea,
	}}, nil
}
