// Package client speaks CTAP2 to an authenticator as a platform does: vauth
// itself or any hardware key reached through CTAPHID (hid.Client on the
// pipe, the virtual cable or hidraw). It encodes requests and decodes
// responses; deciding what to ask is left to its callers (the WebAuthn
// client, the CLI).
package client

import (
	"context"
	"errors"
	"fmt"

	"github.com/fxamacker/cbor/v2"

	"github.com/vauth/vauth/ctap2"
	"github.com/vauth/vauth/hid"
)

// Authenticator carries one CTAP2 request (command byte + CBOR parameters)
// and returns the response (status byte + CBOR). *hid.Client satisfies it.
type Authenticator interface {
	CBOR(ctx context.Context, req []byte, onKeepalive func(status byte)) ([]byte, error)
}

var (
	encMode, _ = cbor.CTAP2EncOptions().EncMode()
	decMode, _ = cbor.DecOptions{MaxNestedLevels: 16}.DecMode()
)

// Client sends CTAP2 commands to one authenticator.
type Client struct {
	a Authenticator
	// OnKeepalive, when set, sees each CTAPHID_KEEPALIVE status (e.g. so a
	// tool can say "touch your key").
	OnKeepalive func(status byte)
}

// New returns a client for a.
func New(a Authenticator) *Client { return &Client{a: a} }

// Call sends one command and decodes the response map into resp (nil to
// ignore it). A status other than CTAP2_OK is a *ctap2.StatusError.
func (c *Client) Call(ctx context.Context, cmd byte, params, resp any) error {
	req := []byte{cmd}
	if params != nil {
		b, err := encMode.Marshal(params)
		if err != nil {
			return err
		}
		req = append(req, b...)
	}
	out, err := c.a.CBOR(ctx, req, c.OnKeepalive)
	if err != nil {
		return err
	}
	if len(out) == 0 {
		return errors.New("ctap2 client: empty response")
	}
	if s := ctap2.Status(out[0]); s != ctap2.CTAP2OK {
		return &ctap2.StatusError{Status: s}
	}
	if resp == nil || len(out) == 1 {
		return nil
	}
	if err := decMode.Unmarshal(out[1:], resp); err != nil {
		return fmt.Errorf("ctap2 client: malformed response to command 0x%02x: %w", cmd, err)
	}
	return nil
}

// Algorithm is a PublicKeyCredentialParameters entry of getInfo.
type Algorithm struct {
	Type string `cbor:"type" json:"type"`
	Alg  int    `cbor:"alg" json:"alg"`
}

// Info is the authenticatorGetInfo response (CTAP 2.1 §6.4).
type Info struct {
	Versions                         []string        `cbor:"1,keyasint" json:"versions"`
	Extensions                       []string        `cbor:"2,keyasint" json:"extensions,omitempty"`
	AAGUID                           []byte          `cbor:"3,keyasint" json:"-"`
	Options                          map[string]bool `cbor:"4,keyasint" json:"options"`
	MaxMsgSize                       int             `cbor:"5,keyasint" json:"maxMsgSize,omitempty"`
	PinUvAuthProtocols               []int           `cbor:"6,keyasint" json:"pinUvAuthProtocols,omitempty"`
	MaxCredentialCountInList         int             `cbor:"7,keyasint" json:"maxCredentialCountInList,omitempty"`
	MaxCredentialIDLength            int             `cbor:"8,keyasint" json:"maxCredentialIdLength,omitempty"`
	Transports                       []string        `cbor:"9,keyasint" json:"transports,omitempty"`
	Algorithms                       []Algorithm     `cbor:"10,keyasint" json:"algorithms,omitempty"`
	MaxSerializedLargeBlobArray      int             `cbor:"11,keyasint" json:"maxSerializedLargeBlobArray,omitempty"`
	ForcePINChange                   bool            `cbor:"12,keyasint" json:"forcePINChange,omitempty"`
	MinPINLength                     int             `cbor:"13,keyasint" json:"minPINLength,omitempty"`
	FirmwareVersion                  int             `cbor:"14,keyasint" json:"firmwareVersion,omitempty"`
	MaxCredBlobLength                int             `cbor:"15,keyasint" json:"maxCredBlobLength,omitempty"`
	MaxRPIDsForSetMinPINLength       int             `cbor:"16,keyasint" json:"maxRPIDsForSetMinPINLength,omitempty"`
	PreferredPlatformUVAttempts      int             `cbor:"17,keyasint" json:"preferredPlatformUvAttempts,omitempty"`
	UVModality                       int             `cbor:"18,keyasint" json:"uvModality,omitempty"`
	RemainingDiscoverableCredentials *int            `cbor:"20,keyasint" json:"remainingDiscoverableCredentials,omitempty"`
}

// GetInfo asks what the authenticator supports.
func (c *Client) GetInfo(ctx context.Context) (*Info, error) {
	var inf Info
	if err := c.Call(ctx, ctap2.CmdGetInfo, nil, &inf); err != nil {
		return nil, err
	}
	return &inf, nil
}

// RPEntity is PublicKeyCredentialRpEntity.
type RPEntity struct {
	ID   string `cbor:"id"`
	Name string `cbor:"name,omitempty"`
}

// UserEntity is PublicKeyCredentialUserEntity.
type UserEntity struct {
	ID          []byte `cbor:"id"`
	Name        string `cbor:"name,omitempty"`
	DisplayName string `cbor:"displayName,omitempty"`
}

// CredentialDescriptor is PublicKeyCredentialDescriptor.
type CredentialDescriptor struct {
	ID   []byte `cbor:"id"`
	Type string `cbor:"type"`
}

// MakeCredentialRequest holds authenticatorMakeCredential's parameters.
type MakeCredentialRequest struct {
	ClientDataHash   []byte                 `cbor:"1,keyasint"`
	RP               RPEntity               `cbor:"2,keyasint"`
	User             UserEntity             `cbor:"3,keyasint"`
	PubKeyCredParams []Algorithm            `cbor:"4,keyasint"`
	ExcludeList      []CredentialDescriptor `cbor:"5,keyasint,omitempty"`
	Extensions       map[string]any         `cbor:"6,keyasint,omitempty"`
	Options          map[string]bool        `cbor:"7,keyasint,omitempty"`
	PinUvAuthParam   []byte                 `cbor:"8,keyasint,omitempty"`
	PinUvAuthProto   int                    `cbor:"9,keyasint,omitempty"`
	// EnterpriseAttestation asks for enterprise attestation: 1
	// vendor-facilitated, 2 platform-managed; 0 leaves it out.
	EnterpriseAttestation int `cbor:"10,keyasint,omitempty"`
}

// MakeCredentialResponse is authenticatorMakeCredential's answer.
type MakeCredentialResponse struct {
	Fmt      string          `cbor:"1,keyasint"`
	AuthData []byte          `cbor:"2,keyasint"`
	AttStmt  cbor.RawMessage `cbor:"3,keyasint"`
	// EPAtt says the statement is an enterprise attestation.
	EPAtt bool `cbor:"4,keyasint"`
	// LargeBlobKey is the new credential's largeBlobKey, when the
	// largeBlobKey extension asked for one.
	LargeBlobKey []byte `cbor:"5,keyasint"`
}

// MakeCredential registers a new credential.
func (c *Client) MakeCredential(ctx context.Context, req *MakeCredentialRequest) (*MakeCredentialResponse, error) {
	var resp MakeCredentialResponse
	if err := c.Call(ctx, ctap2.CmdMakeCredential, req, &resp); err != nil {
		return nil, err
	}
	return &resp, nil
}

// GetAssertionRequest holds authenticatorGetAssertion's parameters.
type GetAssertionRequest struct {
	RPID           string                 `cbor:"1,keyasint"`
	ClientDataHash []byte                 `cbor:"2,keyasint"`
	AllowList      []CredentialDescriptor `cbor:"3,keyasint,omitempty"`
	Extensions     map[string]any         `cbor:"4,keyasint,omitempty"`
	Options        map[string]bool        `cbor:"5,keyasint,omitempty"`
	PinUvAuthParam []byte                 `cbor:"6,keyasint,omitempty"`
	PinUvAuthProto int                    `cbor:"7,keyasint,omitempty"`
}

// GetAssertionResponse is authenticatorGetAssertion's (and
// GetNextAssertion's) answer.
type GetAssertionResponse struct {
	Credential          CredentialDescriptor `cbor:"1,keyasint"`
	AuthData            []byte               `cbor:"2,keyasint"`
	Signature           []byte               `cbor:"3,keyasint"`
	User                *UserEntity          `cbor:"4,keyasint"`
	NumberOfCredentials int                  `cbor:"5,keyasint"`
	// LargeBlobKey is the credential's largeBlobKey, when the largeBlobKey
	// extension asked for it and the credential has one.
	LargeBlobKey []byte `cbor:"7,keyasint"`
}

// GetAssertion signs in with a credential of req.RPID.
func (c *Client) GetAssertion(ctx context.Context, req *GetAssertionRequest) (*GetAssertionResponse, error) {
	var resp GetAssertionResponse
	if err := c.Call(ctx, ctap2.CmdGetAssertion, req, &resp); err != nil {
		return nil, err
	}
	return &resp, nil
}

// GetNextAssertion returns the next of several discoverable credentials a
// GetAssertion announced in NumberOfCredentials.
func (c *Client) GetNextAssertion(ctx context.Context) (*GetAssertionResponse, error) {
	var resp GetAssertionResponse
	if err := c.Call(ctx, ctap2.CmdGetNextAssertion, nil, &resp); err != nil {
		return nil, err
	}
	return &resp, nil
}

// handlerFunc adapts an in-process hid.Handler (such as
// *ctap2.Authenticator) to Authenticator, without CTAPHID framing.
type handlerFunc func(ctx context.Context, req []byte, keepalive hid.Keepalive) []byte

func (h handlerFunc) CBOR(ctx context.Context, req []byte, onKeepalive func(byte)) ([]byte, error) {
	ka := hid.Keepalive(func(byte) {})
	if onKeepalive != nil {
		ka = onKeepalive
	}
	return h(ctx, req, ka), nil
}

// Direct returns an Authenticator that calls h in-process.
func Direct(h hid.Handler) Authenticator { return handlerFunc(h.HandleCBOR) }
