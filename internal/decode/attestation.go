package decode

import (
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/protocol/webauthncbor"
)

// oidFIDOAAGUID is id-fido-gen-ce-aaguid, the certificate extension that
// names the authenticator model (WebAuthn §8.2.1).
var oidFIDOAAGUID = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 45724, 1, 1, 4}

// maxCertificates bounds the x5c chain Decode parses.
const maxCertificates = 8

// Attestation is an attestation object's statement.
type Attestation struct {
	Format string `json:"fmt"`
	// Statement is attStmt with its byte strings as Bytes; the
	// certificates of x5c are also parsed into Certificates.
	Statement any `json:"attStmt"`
	// Algorithm is attStmt's alg, when it has one.
	Algorithm     int           `json:"alg,omitempty"`
	AlgorithmName string        `json:"algName,omitempty"`
	Certificates  []Certificate `json:"certificates,omitempty"`
	// Type is the attestation type the verification found: none, self,
	// basic_full, attca, ...
	Type   string `json:"type,omitempty"`
	Result Result `json:"verified"`
}

// Certificate is one certificate of an attestation statement's x5c.
type Certificate struct {
	Subject            string    `json:"subject"`
	Issuer             string    `json:"issuer"`
	SerialNumber       string    `json:"serialNumber"`
	NotBefore          time.Time `json:"notBefore"`
	NotAfter           time.Time `json:"notAfter"`
	PublicKey          string    `json:"publicKey"`
	SignatureAlgorithm string    `json:"signatureAlgorithm"`
	IsCA               bool      `json:"isCA"`
	// AAGUID is the id-fido-gen-ce-aaguid extension's value.
	AAGUID string `json:"aaguid,omitempty"`
	// IssuedByNext says whether the next certificate in x5c signed this
	// one; nil for the last.
	IssuedByNext *bool  `json:"issuedByNext,omitempty"`
	SelfSigned   bool   `json:"selfSigned"`
	PEM          string `json:"pem"`
}

// attestationObjectCBOR is the attestation object (WebAuthn §6.5.4).
type attestationObjectCBOR struct {
	Fmt      string          `cbor:"fmt"`
	AttStmt  cbor.RawMessage `cbor:"attStmt"`
	AuthData []byte          `cbor:"authData"`
}

// attestationObject decodes an attestation object into r and verifies its
// statement when clientDataJSON is known (or the format is none).
func (r *Report) attestationObject(data, clientDataJSON []byte) error {
	var obj attestationObjectCBOR
	if err := decMode.Unmarshal(data, &obj); err != nil {
		return fmt.Errorf("attestationObject: %w", err)
	}
	if obj.Fmt == "" || obj.AuthData == nil {
		return errors.New("attestationObject lacks fmt or authData")
	}
	ad, err := parseAuthenticatorData(obj.AuthData)
	if err != nil {
		return err
	}
	if ad.Attested == nil {
		r.Problems = append(r.Problems, "authData of an attestation object without attested credential data (flag AT)")
	}
	r.AuthenticatorData = ad
	att := &Attestation{Format: obj.Fmt}
	var stmt any
	if len(obj.AttStmt) > 0 {
		if err := decMode.Unmarshal(obj.AttStmt, &stmt); err != nil {
			return fmt.Errorf("attStmt: %w", err)
		}
	}
	att.Statement = jsonable(stmt)
	if m, ok := stmt.(map[any]any); ok {
		if alg, ok := intValue(m["alg"]); ok && m["alg"] != nil {
			att.Algorithm, att.AlgorithmName = alg, AlgorithmName(alg)
		}
		if x5c, ok := m["x5c"].([]any); ok {
			if att.Certificates, err = parseChain(x5c); err != nil {
				return err
			}
		}
	}
	r.Attestation = att
	if clientDataJSON != nil && r.ClientData == nil {
		cd, err := parseClientData(clientDataJSON)
		if err != nil {
			return err
		}
		r.ClientData = cd
		ad.matchRPID(cd.Origin)
	}
	switch {
	case r.ClientData != nil:
		att.Type, att.Result = verifyStatement(data, r.ClientData.Hash)
	case obj.Fmt == string(protocol.AttestationFormatNone):
		att.Type, att.Result = verifyStatement(data, nil)
	default:
		att.Result = Result{Detail: "not checked: it needs the clientDataJSON it was signed with"}
	}
	return nil
}

// verifyStatement has go-webauthn, a relying-party library independent of
// vauth, verify the attestation statement the way a relying party does
// (WebAuthn §7.1 step 19), without a metadata service: the signature, the
// certificate requirements of the format, the nonce of apple and the
// certInfo and pubArea of tpm.
func verifyStatement(attestationObject, clientDataHash []byte) (string, Result) {
	var ao protocol.AttestationObject
	if err := webauthncbor.Unmarshal(attestationObject, &ao); err != nil {
		return "", Result{Checked: true, Detail: err.Error()}
	}
	if err := ao.AuthData.Unmarshal(ao.RawAuthData); err != nil {
		return "", Result{Checked: true, Detail: describe(err)}
	}
	if err := ao.VerifyAttestation(clientDataHash, nil, protocol.AttestationPolicy{}, protocol.SignaturePolicy{}); err != nil {
		return ao.Type, Result{Checked: true, Detail: describe(err)}
	}
	return ao.Type, Result{Checked: true, OK: true}
}

// describe adds go-webauthn's detail, which its errors keep apart from the
// message.
func describe(err error) string {
	var pe *protocol.Error
	if errors.As(err, &pe) && pe.DevInfo != "" {
		return fmt.Sprintf("%s (%s)", err, pe.DevInfo)
	}
	return err.Error()
}

// parseChain parses an x5c array and checks which certificate signed which.
func parseChain(x5c []any) ([]Certificate, error) {
	if len(x5c) > maxCertificates {
		return nil, fmt.Errorf("x5c holds %d certificates; at most %d", len(x5c), maxCertificates)
	}
	certs := make([]*x509.Certificate, len(x5c))
	out := make([]Certificate, len(x5c))
	for i, item := range x5c {
		der, ok := item.([]byte)
		if !ok {
			return nil, fmt.Errorf("x5c[%d] is not a byte string", i)
		}
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, fmt.Errorf("x5c[%d]: %w", i, err)
		}
		certs[i] = c
		out[i] = describeCertificate(c)
	}
	for i, c := range certs {
		if i+1 < len(certs) {
			ok := c.CheckSignatureFrom(certs[i+1]) == nil
			out[i].IssuedByNext = &ok
		}
	}
	return out, nil
}

func describeCertificate(c *x509.Certificate) Certificate {
	d := Certificate{
		Subject:            c.Subject.String(),
		Issuer:             c.Issuer.String(),
		SerialNumber:       hex.EncodeToString(c.SerialNumber.Bytes()),
		NotBefore:          c.NotBefore.UTC(),
		NotAfter:           c.NotAfter.UTC(),
		PublicKey:          c.PublicKeyAlgorithm.String(),
		SignatureAlgorithm: c.SignatureAlgorithm.String(),
		IsCA:               c.IsCA,
		SelfSigned:         c.CheckSignatureFrom(c) == nil && c.Subject.String() == c.Issuer.String(),
		PEM:                string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})),
	}
	if k, err := KeyFromPublic(c.PublicKey, 0); err == nil {
		d.PublicKey = k.Description
	}
	for _, ext := range c.Extensions {
		if !ext.Id.Equal(oidFIDOAAGUID) {
			continue
		}
		var v []byte
		if rest, err := asn1.Unmarshal(ext.Value, &v); err == nil && len(rest) == 0 && len(v) == 16 {
			d.AAGUID = formatUUID([16]byte(v))
		}
	}
	return d
}
