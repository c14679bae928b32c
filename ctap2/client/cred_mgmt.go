package client

import (
	"context"
	"errors"

	"github.com/fxamacker/cbor/v2"

	"github.com/vauth/vauth/ctap2"
)

// subCommandRequest holds the parameters of
// authenticatorCredentialManagement and authenticatorConfig, which share
// their layout. SubCommandParams is already encoded: pinUvAuthParam
// authenticates those very bytes.
type subCommandRequest struct {
	SubCommand        int             `cbor:"1,keyasint"`
	SubCommandParams  cbor.RawMessage `cbor:"2,keyasint,omitempty"`
	PinUvAuthProtocol int             `cbor:"3,keyasint,omitempty"`
	PinUvAuthParam    []byte          `cbor:"4,keyasint,omitempty"`
}

// newSubCommandRequest is a request for subCommand with params encoded as
// its subCommandParams (none when params is nil).
func newSubCommandRequest(subCommand int, params any) (*subCommandRequest, error) {
	req := &subCommandRequest{SubCommand: subCommand}
	if params != nil {
		raw, err := encMode.Marshal(params)
		if err != nil {
			return nil, err
		}
		req.SubCommandParams = raw
	}
	return req, nil
}

// authenticate adds token's pinUvAuthParam over prefix || subCommand ||
// subCommandParams.
func (r *subCommandRequest) authenticate(token *Token, prefix []byte) {
	r.PinUvAuthProtocol = token.ProtocolVersion()
	r.PinUvAuthParam = token.Param(append(append(prefix, byte(r.SubCommand)), r.SubCommandParams...))
}

// credMgmtParams are the members of subCommandParams.
type credMgmtParams struct {
	RPIDHash     []byte                `cbor:"1,keyasint,omitempty"`
	CredentialID *CredentialDescriptor `cbor:"2,keyasint,omitempty"`
	User         *UserEntity           `cbor:"3,keyasint,omitempty"`
}

// credMgmtResponse is authenticatorCredentialManagement's answer.
type credMgmtResponse struct {
	ExistingResidentCredentialsCount             int                  `cbor:"1,keyasint"`
	MaxPossibleRemainingResidentCredentialsCount int                  `cbor:"2,keyasint"`
	RP                                           RPEntity             `cbor:"3,keyasint"`
	RPIDHash                                     []byte               `cbor:"4,keyasint"`
	TotalRPs                                     int                  `cbor:"5,keyasint"`
	User                                         UserEntity           `cbor:"6,keyasint"`
	CredentialID                                 CredentialDescriptor `cbor:"7,keyasint"`
	PublicKey                                    cbor.RawMessage      `cbor:"8,keyasint"`
	TotalCredentials                             int                  `cbor:"9,keyasint"`
	CredProtect                                  int                  `cbor:"10,keyasint"`
	LargeBlobKey                                 []byte               `cbor:"11,keyasint"`
	ThirdPartyPayment                            bool                 `cbor:"12,keyasint"`
}

// CredentialManagement manages an authenticator's discoverable credentials
// (authenticatorCredentialManagement) with a pinUvAuthToken that has the cm
// permission.
type CredentialManagement struct {
	Client *Client
	Token  *Token
	// Preview sends the CTAP 2.1 preview command (0x41) instead of 0x0A,
	// for authenticators whose getInfo has credentialMgmtPreview only.
	Preview bool
}

// CredsMetadata is the answer of getCredsMetadata.
type CredsMetadata struct {
	// Existing is the number of discoverable credentials.
	Existing int
	// MaxPossibleRemaining is how many more would fit.
	MaxPossibleRemaining int
}

// RP is an RP with discoverable credentials.
type RP struct {
	RP       RPEntity
	RPIDHash []byte
}

// ManagedCredential is a discoverable credential as credential management
// describes it.
type ManagedCredential struct {
	User         UserEntity
	CredentialID CredentialDescriptor
	PublicKey    cbor.RawMessage // COSE_Key
	CredProtect  int
	LargeBlobKey []byte // nil when the credential has none
	// ThirdPartyPayment is the credential's thirdPartyPayment mark (CTAP
	// 2.2); false from an authenticator that does not report it.
	ThirdPartyPayment bool
}

// call sends one subcommand with params (a *credMgmtParams, or nil for
// none); auth adds the pinUvAuthParam over subCommand || subCommandParams.
func (m *CredentialManagement) call(ctx context.Context, subCommand int, params any, auth bool) (*credMgmtResponse, error) {
	req, err := newSubCommandRequest(subCommand, params)
	if err != nil {
		return nil, err
	}
	if auth {
		if m.Token == nil {
			return nil, errors.New("ctap2 client: credential management needs a pinUvAuthToken")
		}
		req.authenticate(m.Token, nil)
	}
	cmd := byte(ctap2.CmdCredentialManagement)
	if m.Preview {
		cmd = ctap2.CmdCredentialManagementPreview
	}
	var resp credMgmtResponse
	if err := m.Client.Call(ctx, cmd, req, &resp); err != nil {
		return nil, err
	}
	return &resp, nil
}

// Metadata is getCredsMetadata.
func (m *CredentialManagement) Metadata(ctx context.Context) (*CredsMetadata, error) {
	resp, err := m.call(ctx, ctap2.SubCmdGetCredsMetadata, nil, true)
	if err != nil {
		return nil, err
	}
	return &CredsMetadata{Existing: resp.ExistingResidentCredentialsCount, MaxPossibleRemaining: resp.MaxPossibleRemainingResidentCredentialsCount}, nil
}

// RPs lists the RPs with discoverable credentials (enumerateRPsBegin, then
// enumerateRPsGetNextRP); none is an empty list.
func (m *CredentialManagement) RPs(ctx context.Context) ([]RP, error) {
	first, err := m.call(ctx, ctap2.SubCmdEnumerateRPsBegin, nil, true)
	if noCredentials(err) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	rps := []RP{{RP: first.RP, RPIDHash: first.RPIDHash}}
	for range first.TotalRPs - 1 {
		next, err := m.call(ctx, ctap2.SubCmdEnumerateRPsGetNextRP, nil, false)
		if err != nil {
			return nil, err
		}
		rps = append(rps, RP{RP: next.RP, RPIDHash: next.RPIDHash})
	}
	return rps, nil
}

// Credentials lists the discoverable credentials of the RP whose RP ID
// hashes to rpIDHash (enumerateCredentialsBegin, then
// enumerateCredentialsGetNextCredential); none is an empty list.
func (m *CredentialManagement) Credentials(ctx context.Context, rpIDHash []byte) ([]ManagedCredential, error) {
	first, err := m.call(ctx, ctap2.SubCmdEnumerateCredentialsBegin, &credMgmtParams{RPIDHash: rpIDHash}, true)
	if noCredentials(err) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	creds := []ManagedCredential{managed(first)}
	for range first.TotalCredentials - 1 {
		next, err := m.call(ctx, ctap2.SubCmdEnumerateCredentialsGetNextCredential, nil, false)
		if err != nil {
			return nil, err
		}
		creds = append(creds, managed(next))
	}
	return creds, nil
}

func managed(r *credMgmtResponse) ManagedCredential {
	return ManagedCredential{User: r.User, CredentialID: r.CredentialID, PublicKey: r.PublicKey, CredProtect: r.CredProtect, LargeBlobKey: r.LargeBlobKey, ThirdPartyPayment: r.ThirdPartyPayment}
}

func noCredentials(err error) bool {
	var se *ctap2.StatusError
	return errors.As(err, &se) && se.Status == ctap2.CTAP2ErrNoCredentials
}

// DeleteCredential deletes the discoverable credential with ID id.
func (m *CredentialManagement) DeleteCredential(ctx context.Context, id []byte) error {
	_, err := m.call(ctx, ctap2.SubCmdDeleteCredential, &credMgmtParams{CredentialID: &CredentialDescriptor{ID: id, Type: "public-key"}}, true)
	return err
}

// UpdateUser replaces the name and display name of the user of the
// discoverable credential with ID id; user.ID must be the credential's.
func (m *CredentialManagement) UpdateUser(ctx context.Context, id []byte, user UserEntity) error {
	_, err := m.call(ctx, ctap2.SubCmdUpdateUserInformation, &credMgmtParams{
		CredentialID: &CredentialDescriptor{ID: id, Type: "public-key"}, User: &user,
	}, true)
	return err
}
