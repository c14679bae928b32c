// Package mds describes vauth the way the FIDO Metadata Service (MDS3)
// describes authenticator models: a metadata statement for the running
// configuration (FIDO Metadata Statement v3.0), and a metadata BLOB (FIDO
// Metadata Service v3, "Metadata BLOB") signed under a BLOB root that vauth keeps in
// the store, so that a relying party under test can enforce attestation
// with vauth as it does with the real MDS. It is internal: relying parties
// reach it through `vauth metadata` and the control API, as JSON and JWS.
package mds

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"

	"github.com/vauth/vauth/attestation"
	"github.com/vauth/vauth/ctap2/client"
	"github.com/vauth/vauth/ctap2/pinuv"
	"github.com/vauth/vauth/internal/daemon"
	"github.com/vauth/vauth/keystore"
)

// Statement is a metadata statement (FIDO Metadata Statement v3, "Metadata Keys"),
// with the members a FIDO2 authenticator's statement must have.
type Statement struct {
	LegalHeader                 string                 `json:"legalHeader"`
	AAGUID                      string                 `json:"aaguid"`
	Description                 string                 `json:"description"`
	AuthenticatorVersion        int                    `json:"authenticatorVersion"`
	ProtocolFamily              string                 `json:"protocolFamily"`
	Schema                      int                    `json:"schema"`
	Upv                         []Version              `json:"upv"`
	AuthenticationAlgorithms    []string               `json:"authenticationAlgorithms"`
	PublicKeyAlgAndEncodings    []string               `json:"publicKeyAlgAndEncodings"`
	AttestationTypes            []string               `json:"attestationTypes"`
	UserVerificationDetails     [][]VerificationMethod `json:"userVerificationDetails"`
	KeyProtection               []string               `json:"keyProtection"`
	IsKeyRestricted             bool                   `json:"isKeyRestricted"`
	MatcherProtection           []string               `json:"matcherProtection"`
	AttachmentHint              []string               `json:"attachmentHint"`
	TcDisplay                   []string               `json:"tcDisplay"`
	AttestationRootCertificates []string               `json:"attestationRootCertificates"`
	AuthenticatorGetInfo        GetInfo                `json:"authenticatorGetInfo"`
}

// Version is a upv entry.
type Version struct {
	Major int `json:"major"`
	Minor int `json:"minor"`
}

// VerificationMethod is a VerificationMethodDescriptor.
type VerificationMethod struct {
	Method string        `json:"userVerificationMethod"`
	CaDesc *CodeAccuracy `json:"caDesc,omitempty"`
}

// CodeAccuracy is a CodeAccuracyDescriptor: what a PIN is made of.
type CodeAccuracy struct {
	Base       int `json:"base"`
	MinLength  int `json:"minLength"`
	MaxRetries int `json:"maxRetries"`
}

// GetInfo is authenticatorGetInfo as a statement carries it: the CTAP
// member names, the AAGUID as 32 hex digits (Metadata Statement v3, authenticatorGetInfo).
type GetInfo struct {
	client.Info
	AAGUID string `json:"aaguid"`
}

// Values from the FIDO Registry of Predefined Values and the statement's
// fixed members.
const (
	legalHeader     = "vauth test metadata: vauth is a software FIDO2 authenticator for testing. This statement describes vauth, not any product whose AAGUID it presents, and certifies nothing."
	protocolFIDO2   = "fido2"
	schemaVersion   = 3
	keyEncodingCOSE = "cose" // ALG_KEY_COSE: FIDO2 credential public keys are COSE_Keys

	// Attestation types (FIDO Registry, "Authenticator Attestation
	// Types") by what vauth's kinds produce.
	attBasicFull      = "basic_full"      // packed with x5c under vauth's CA
	attBasicSurrogate = "basic_surrogate" // packed self attestation
	attAttCA          = "attca"           // tpm: an AIK certificate from vauth's CA
	attNone           = "none"

	// User verification methods (FIDO Registry, "User Verification Methods").
	uvPresence         = "presence_internal"
	uvPasscodeExternal = "passcode_external" // clientPIN: typed on the platform
	uvPasscodeInternal = "passcode_internal" // vauth's built-in UV (--uv): confirmed on the host vauth runs on

	pinBase = 10 // a PIN is counted as decimal digits would be (caDesc.base)
)

// authenticationAlgorithms are the FIDO Registry names ("Authentication
// Algorithms") of the signature algorithms of COSE algorithms. WebAuthn's
// ECDSA signatures are ASN.1 DER (WebAuthn, "Signature Formats for Packed
// Attestation, FIDO U2F Attestation, and Assertion Signatures"), so the _der
// names where the registry has one; P-384 and P-521 have only _raw names.
var authenticationAlgorithms = map[int]string{
	keystore.ES256:  "secp256r1_ecdsa_sha256_der",
	keystore.ES384:  "secp384r1_ecdsa_sha384_raw",
	keystore.ES512:  "secp521r1_ecdsa_sha512_raw",
	keystore.EdDSA:  "ed25519_eddsa_sha512_raw",
	keystore.RS256:  "rsa_emsa_pkcs1_sha256_raw",
	keystore.PS256:  "rsassa_pss_sha256_raw",
	keystore.ES256K: "secp256k1_ecdsa_sha256_der",
}

// upvs are the FIDO2 protocol versions of getInfo's versions: upv 1.0 is
// CTAP 2.0, 1.1 is CTAP 2.1 (and its pre-release).
var upvs = map[string]Version{"FIDO_2_0": {1, 0}, "FIDO_2_1_PRE": {1, 1}, "FIDO_2_1": {1, 1}}

// Config is what a statement describes.
type Config struct {
	Info        *client.Info      // the authenticator's getInfo
	Attestation string            // the attestation kind (attestation.Kind*)
	Keystore    string            // the keystore backend: soft or tpm
	Root        *x509.Certificate // the attestation CA, for packed and tpm
}

// ErrNoMetadata: the configuration has no metadata statement.
var ErrNoMetadata = errors.New("mds: a U2F-only key (--profile u2f) has no FIDO2 metadata statement")

// New returns the metadata statement of an authenticator.
func New(c Config) (*Statement, error) {
	inf := c.Info
	var aaguid [16]byte
	if len(inf.AAGUID) != len(aaguid) {
		return nil, fmt.Errorf("mds: getInfo has an AAGUID of %d bytes", len(inf.AAGUID))
	}
	copy(aaguid[:], inf.AAGUID)
	s := &Statement{
		LegalHeader:                 legalHeader,
		AAGUID:                      attestation.FormatAAGUID(aaguid),
		Description:                 Description(aaguid, c.Keystore),
		AuthenticatorVersion:        max(inf.FirmwareVersion, 1),
		ProtocolFamily:              protocolFIDO2,
		Schema:                      schemaVersion,
		PublicKeyAlgAndEncodings:    []string{keyEncodingCOSE},
		IsKeyRestricted:             true, // vauth signs only WebAuthn/U2F data with credential keys
		MatcherProtection:           []string{"software"},
		AttachmentHint:              []string{"external", "wired"},
		TcDisplay:                   []string{},
		AttestationRootCertificates: []string{},
		AuthenticatorGetInfo:        GetInfo{Info: *inf, AAGUID: hex.EncodeToString(aaguid[:])},
	}
	// Room for passkeys is one device's state, not the model's, and would
	// change the BLOB with every registration.
	s.AuthenticatorGetInfo.RemainingDiscoverableCredentials = nil
	for _, v := range inf.Versions {
		if u, ok := upvs[v]; ok && !slices.Contains(s.Upv, u) {
			s.Upv = append(s.Upv, u)
		}
	}
	for _, a := range inf.Algorithms {
		if name, ok := authenticationAlgorithms[a.Alg]; ok {
			s.AuthenticationAlgorithms = append(s.AuthenticationAlgorithms, name)
		}
	}
	switch c.Keystore {
	case daemon.BackendTPM:
		s.KeyProtection = []string{"hardware"} // a TPM, discrete or firmware: hardware either way
	default:
		s.KeyProtection = []string{"software"}
	}
	switch c.Attestation {
	case attestation.KindPacked:
		s.AttestationTypes = []string{attBasicFull}
	case attestation.KindTPM:
		s.AttestationTypes = []string{attAttCA}
	case attestation.KindSelf:
		s.AttestationTypes = []string{attBasicSurrogate}
	default:
		s.AttestationTypes = []string{attNone}
	}
	if c.Root != nil && (c.Attestation == attestation.KindPacked || c.Attestation == attestation.KindTPM) {
		s.AttestationRootCertificates = []string{base64.StdEncoding.EncodeToString(c.Root.Raw)}
	}
	s.UserVerificationDetails = [][]VerificationMethod{{{Method: uvPresence}}}
	if _, ok := inf.Options["clientPin"]; ok {
		s.UserVerificationDetails = append(s.UserVerificationDetails, []VerificationMethod{
			{Method: uvPasscodeExternal, CaDesc: &CodeAccuracy{Base: pinBase, MinLength: max(inf.MinPINLength, pinuv.MinPINLength), MaxRetries: pinuv.MaxPINRetries}},
			{Method: uvPresence},
		})
	}
	if _, ok := inf.Options["uv"]; ok {
		s.UserVerificationDetails = append(s.UserVerificationDetails, []VerificationMethod{{Method: uvPasscodeInternal}, {Method: uvPresence}})
	}
	return s, nil
}

// Description says what vauth is, and which product's AAGUID it presents
// when it presents a preset's: a statement never claims to be that product.
func Description(aaguid [16]byte, backend string) string {
	d := "vauth software FIDO2 authenticator"
	if backend == daemon.BackendTPM {
		d += " (keys in the TPM)"
	}
	if p, ok := attestation.PresetOf(aaguid); ok && aaguid != attestation.DefaultAAGUID {
		d = fmt.Sprintf("%s emulating the AAGUID of %s for testing (not that product)", d, p.Model)
	}
	return d
}

// ForDaemon returns the statement of a running authenticator: its live
// getInfo, attestation and keystore.
func ForDaemon(ctx context.Context, d *daemon.Daemon) (*Statement, error) {
	if !d.Authenticator.ServesCBOR() {
		return nil, ErrNoMetadata
	}
	inf, err := client.New(client.Direct(d.Authenticator)).GetInfo(ctx)
	if err != nil {
		return nil, fmt.Errorf("mds: getInfo: %w", err)
	}
	c := Config{Info: inf, Attestation: d.Attestation, Keystore: d.Keystore.Backend()}
	if c.Attestation == attestation.KindPacked || c.Attestation == attestation.KindTPM {
		ca, err := attestation.LoadOrCreateCA(d.Keystore)
		if err != nil {
			return nil, err
		}
		c.Root = ca.Certificate()
	}
	return New(c)
}

// withAAGUID is s for another AAGUID: the entry of a BLOB that lists
// several, which vauth can all present with the same configuration.
func (s *Statement) withAAGUID(aaguid [16]byte, backend string) *Statement {
	c := *s
	c.AAGUID = attestation.FormatAAGUID(aaguid)
	c.Description = Description(aaguid, backend)
	c.AuthenticatorGetInfo.AAGUID = hex.EncodeToString(aaguid[:])
	return &c
}
