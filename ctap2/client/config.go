package client

import (
	"bytes"
	"context"

	"github.com/fxamacker/cbor/v2"
)

// cmdConfig is authenticatorConfig.
const cmdConfig = 0x0D

// authenticatorConfig subcommands (CTAP 2.1 §6.11).
const (
	subCmdEnableEnterpriseAttestation = 0x01
	subCmdToggleAlwaysUv              = 0x02
	subCmdSetMinPINLength             = 0x03
)

// configRequest holds authenticatorConfig's parameters.
type configRequest struct {
	SubCommand        int             `cbor:"1,keyasint"`
	SubCommandParams  cbor.RawMessage `cbor:"2,keyasint,omitempty"`
	PinUvAuthProtocol int             `cbor:"3,keyasint,omitempty"`
	PinUvAuthParam    []byte          `cbor:"4,keyasint,omitempty"`
}

// MinPINLength are setMinPINLength's parameters; zero values are left out.
type MinPINLength struct {
	// NewMinPINLength is the new minimum PIN length in code points; 0
	// keeps the current one.
	NewMinPINLength int `cbor:"1,keyasint,omitempty"`
	// RPIDs may learn the minimum PIN length (minPinLength extension).
	RPIDs []string `cbor:"2,keyasint,omitempty"`
	// ForceChangePIN makes the user change the PIN before it is used again.
	ForceChangePIN bool `cbor:"3,keyasint,omitempty"`
}

// config sends one authenticatorConfig subcommand; token, which needs the
// acfg permission, may be nil for an authenticator without PIN or built-in
// user verification.
func (c *Client) config(ctx context.Context, token *Token, subCommand int, params any) error {
	req := configRequest{SubCommand: subCommand}
	if params != nil {
		raw, err := encMode.Marshal(params)
		if err != nil {
			return err
		}
		req.SubCommandParams = raw
	}
	if token != nil {
		message := append(bytes.Repeat([]byte{0xff}, 32), cmdConfig, byte(subCommand))
		req.PinUvAuthProtocol = token.ProtocolVersion()
		req.PinUvAuthParam = token.Param(append(message, req.SubCommandParams...))
	}
	return c.Call(ctx, cmdConfig, &req, nil)
}

// EnableEnterpriseAttestation turns enterprise attestation on.
func (c *Client) EnableEnterpriseAttestation(ctx context.Context, token *Token) error {
	return c.config(ctx, token, subCmdEnableEnterpriseAttestation, nil)
}

// ToggleAlwaysUV turns alwaysUv on when it is off, and off when it is on.
func (c *Client) ToggleAlwaysUV(ctx context.Context, token *Token) error {
	return c.config(ctx, token, subCmdToggleAlwaysUv, nil)
}

// SetMinPINLength raises the minimum PIN length, names the RPs that may
// learn it, or forces a PIN change.
func (c *Client) SetMinPINLength(ctx context.Context, token *Token, p MinPINLength) error {
	return c.config(ctx, token, subCmdSetMinPINLength, &p)
}
