package client

import (
	"bytes"
	"context"

	"github.com/vauth/vauth/ctap2"
)

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
	req, err := newSubCommandRequest(subCommand, params)
	if err != nil {
		return err
	}
	if token != nil {
		req.authenticate(token, append(bytes.Repeat([]byte{0xff}, 32), ctap2.CmdConfig))
	}
	return c.Call(ctx, ctap2.CmdConfig, req, nil)
}

// EnableEnterpriseAttestation turns enterprise attestation on.
func (c *Client) EnableEnterpriseAttestation(ctx context.Context, token *Token) error {
	return c.config(ctx, token, ctap2.SubCmdEnableEnterpriseAttestation, nil)
}

// ToggleAlwaysUV turns alwaysUv on when it is off, and off when it is on.
func (c *Client) ToggleAlwaysUV(ctx context.Context, token *Token) error {
	return c.config(ctx, token, ctap2.SubCmdToggleAlwaysUv, nil)
}

// SetMinPINLength raises the minimum PIN length, names the RPs that may
// learn it, or forces a PIN change.
func (c *Client) SetMinPINLength(ctx context.Context, token *Token, p MinPINLength) error {
	return c.config(ctx, token, ctap2.SubCmdSetMinPINLength, &p)
}
