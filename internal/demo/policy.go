package demo

import (
	"context"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/go-webauthn/webauthn/metadata"
	"github.com/go-webauthn/webauthn/metadata/providers/memory"
	"github.com/go-webauthn/webauthn/protocol"
	gowebauthn "github.com/go-webauthn/webauthn/webauthn"

	"github.com/vauth/vauth/attestation"
)

// Policy is a passkey policy as an Entra ID administrator sets one:
// "Enforce attestation" (the authenticator must prove its model with an
// attestation that chains to a root in the trusted metadata, and its
// metadata must not report it compromised), and key restrictions, an
// allow- or block-list of AAGUIDs.
type Policy struct {
	EnforceAttestation bool `json:"enforceAttestation"`
	// Allow, when not empty, are the only AAGUIDs that may register; Block
	// may not. Canonical UUIDs (Normalize).
	Allow []string `json:"allowAaguids"`
	Block []string `json:"blockAaguids"`
}

// Normalize writes the AAGUIDs, given as UUIDs or preset names, as
// canonical UUIDs.
func (p *Policy) Normalize() error {
	for _, list := range []*[]string{&p.Allow, &p.Block} {
		for i, a := range *list {
			aaguid, err := attestation.ResolveAAGUID(a)
			if err != nil {
				return err
			}
			(*list)[i] = attestation.FormatAAGUID(aaguid)
		}
	}
	return nil
}

// restricted says why the key restrictions refuse aaguid, or "".
func (p *Policy) restricted(aaguid string) string {
	switch {
	case slices.Contains(p.Block, aaguid):
		return "aaguid on the block list"
	case len(p.Allow) > 0 && !slices.Contains(p.Allow, aaguid):
		return "aaguid not on the allow list"
	}
	return ""
}

// MetadataSource returns the metadata a relying party trusts at the time
// of a registration (the BLOB is fetched again each time, so that a status
// just set takes effect).
type MetadataSource func(ctx context.Context) (metadata.Provider, error)

// LoadMetadata verifies a metadata BLOB against its root (PEM) and returns
// a provider that enforces it with every check go-webauthn has: entry
// present, trust anchor, undesired statuses, attestation type and format,
// AAGUID, algorithms, extensions, user verification.
func LoadMetadata(blob, rootPEM []byte) (metadata.Provider, error) {
	md, err := DecodeMetadata(blob, rootPEM)
	if err != nil {
		return nil, err
	}
	return memory.New(memory.WithMetadata(md.ToMap()),
		memory.WithValidateAAGUID(true), memory.WithValidateAttestationFormats(true), memory.WithValidateAlgorithms(true),
		memory.WithValidateBackupEligibility(true), memory.WithValidateExtensions(true), memory.WithValidateUserVerification(true))
}

// DecodeMetadata verifies a metadata BLOB against its root (PEM) and
// parses it, as go-webauthn's metadata package does.
func DecodeMetadata(blob, rootPEM []byte) (*metadata.Metadata, error) {
	block, _ := pem.Decode(rootPEM)
	if block == nil {
		return nil, errors.New("demo: the metadata root is not PEM")
	}
	dec, err := metadata.NewDecoder(metadata.WithRootCertificate(base64.StdEncoding.EncodeToString(block.Bytes)))
	if err != nil {
		return nil, err
	}
	payload, err := dec.DecodeBytes(blob)
	if err != nil {
		return nil, fmt.Errorf("demo: the metadata BLOB does not verify: %w", err)
	}
	return dec.Parse(payload)
}

// Results of a registration under a policy, as the log line says them.
const (
	ResultAccepted = "accepted"
	ResultRefused  = "refused"
)

// Refusal is a registration that the relying party refused: the AAGUID the
// authenticator reported and why.
type Refusal struct {
	AAGUID string
	Reason string
}

func (r *Refusal) Error() string {
	return fmt.Sprintf("relying party refused the registration of AAGUID %s: %s", r.AAGUID, r.Reason)
}

// LogRegistration writes the registration log line, one per registration,
// in logfmt so that it can be grepped or queried by AAGUID as Entra ID's
// sign-in logs are (result=accepted|refused, reason when refused).
func LogRegistration(w io.Writer, user, aaguid string, err error) {
	var r *Refusal
	switch {
	case err == nil:
		fmt.Fprintf(w, "registration aaguid=%s user=%q result=%s\n", aaguid, user, ResultAccepted)
	case errors.As(err, &r):
		fmt.Fprintf(w, "registration aaguid=%s user=%q result=%s reason=%q\n", r.AAGUID, user, ResultRefused, r.Reason)
	default:
		fmt.Fprintf(w, "registration aaguid=%s user=%q result=%s reason=%q\n", aaguid, user, ResultRefused, err.Error())
	}
}

// verify runs CreateCredential under the policy: key restrictions on the
// AAGUID first (as Entra ID checks them whether or not it enforces
// attestation), then, when attestation is enforced, go-webauthn with the
// trusted metadata, refusing attestation that proves no model (none, self).
func (rp *RP) verify(ctx context.Context, u *User, session gowebauthn.SessionData, parsed *protocol.ParsedCredentialCreationData) (*gowebauthn.Credential, error) {
	p := rp.Policy
	if p == nil {
		return rp.WebAuthn.CreateCredential(u, session, parsed)
	}
	var aaguid [16]byte
	copy(aaguid[:], parsed.Response.AttestationObject.AuthData.AttData.AAGUID)
	refuse := func(reason string) error { return &Refusal{AAGUID: attestation.FormatAAGUID(aaguid), Reason: reason} }
	if why := p.restricted(attestation.FormatAAGUID(aaguid)); why != "" {
		return nil, refuse(why)
	}
	w := rp.WebAuthn
	if p.EnforceAttestation {
		if rp.Metadata == nil {
			return nil, refuse("attestation is enforced but no metadata is trusted")
		}
		provider, err := rp.Metadata(ctx)
		if err != nil {
			return nil, refuse("no trusted metadata: " + err.Error())
		}
		cfg := *rp.WebAuthn.Config
		cfg.MDS = provider
		if w, err = gowebauthn.New(&cfg); err != nil {
			return nil, err
		}
	}
	cred, err := w.CreateCredential(u, session, parsed)
	if err != nil {
		return nil, refuse("untrusted attestation: " + detail(err))
	}
	if p.EnforceAttestation && (cred.AttestationFormat == string(protocol.AttestationFormatNone) || cred.AttestationType == "self") {
		return nil, refuse(fmt.Sprintf("untrusted attestation: %s (%s) proves no authenticator model", cred.AttestationFormat, cred.AttestationType))
	}
	return cred, nil
}

// detail is go-webauthn's account of an error: its details and developer
// information, which its message leaves out.
func detail(err error) string {
	var pe *protocol.Error
	if !errors.As(err, &pe) {
		return err.Error()
	}
	parts := []string{}
	for _, s := range []string{pe.Details, pe.DevInfo} {
		if s != "" {
			parts = append(parts, s)
		}
	}
	if len(parts) == 0 {
		return err.Error()
	}
	return strings.Join(parts, ": ")
}
