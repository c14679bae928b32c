package client

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"

	"github.com/vauth/vauth/ctap2"
	"github.com/vauth/vauth/ctap2/pinuv"
	"github.com/vauth/vauth/internal/cose"
)

// clientPINRequest holds authenticatorClientPIN's parameters.
type clientPINRequest struct {
	PinUvAuthProtocol int       `cbor:"1,keyasint,omitempty"`
	SubCommand        int       `cbor:"2,keyasint"`
	KeyAgreement      *cose.Key `cbor:"3,keyasint,omitempty"`
	PinUvAuthParam    []byte    `cbor:"4,keyasint,omitempty"`
	NewPinEnc         []byte    `cbor:"5,keyasint,omitempty"`
	PinHashEnc        []byte    `cbor:"6,keyasint,omitempty"`
	Permissions       uint      `cbor:"9,keyasint,omitempty"`
	RPID              string    `cbor:"10,keyasint,omitempty"`
}

// clientPINResponse is authenticatorClientPIN's answer.
type clientPINResponse struct {
	KeyAgreement    *cose.Key `cbor:"1,keyasint"`
	PinUvAuthToken  []byte    `cbor:"2,keyasint"`
	PinRetries      int       `cbor:"3,keyasint"`
	PowerCycleState bool      `cbor:"4,keyasint"`
	UVRetries       int       `cbor:"5,keyasint"`
}

// Token is a pinUvAuthToken the authenticator issued, with the PIN/UV auth
// protocol it belongs to.
type Token struct {
	Protocol pinuv.Protocol
	Value    []byte
}

// Param is the pinUvAuthParam of message made with the token:
// authenticate(pinUvAuthToken, message).
func (t *Token) Param(message []byte) []byte {
	return t.Protocol.Authenticate(t.Value, message)
}

// ProtocolVersion is the pinUvAuthProtocol number to send with Param.
func (t *Token) ProtocolVersion() int { return t.Protocol.Version() }

// protocol returns the PIN/UV auth protocol with number version, or for
// version 0 the first of the authenticator's pinUvAuthProtocols that this
// client knows.
func (c *Client) protocol(ctx context.Context, version int) (pinuv.Protocol, error) {
	if version == 0 {
		inf, err := c.GetInfo(ctx)
		if err != nil {
			return nil, err
		}
		i := slices.IndexFunc(inf.PinUvAuthProtocols, func(v int) bool {
			return v == pinuv.ProtocolOneVersion || v == pinuv.ProtocolTwoVersion
		})
		if i < 0 {
			return nil, fmt.Errorf("ctap2 client: the authenticator offers no known pinUvAuthProtocol (%v)", inf.PinUvAuthProtocols)
		}
		version = inf.PinUvAuthProtocols[i]
	}
	return pinuv.New(version)
}

// clientPIN sends one authenticatorClientPIN subcommand.
func (c *Client) clientPIN(ctx context.Context, req *clientPINRequest) (*clientPINResponse, error) {
	var resp clientPINResponse
	if err := c.Call(ctx, ctap2.CmdClientPIN, req, &resp); err != nil {
		return nil, err
	}
	return &resp, nil
}

// session is one key agreement with the authenticator: the platform's
// key-agreement key and the shared secret.
type session struct {
	protocol     pinuv.Protocol
	platformKey  *cose.Key
	sharedSecret []byte
}

// keyAgreement runs getKeyAgreement and encapsulate.
func (c *Client) keyAgreement(ctx context.Context, version int) (*session, error) {
	p, err := c.protocol(ctx, version)
	if err != nil {
		return nil, err
	}
	resp, err := c.clientPIN(ctx, &clientPINRequest{PinUvAuthProtocol: p.Version(), SubCommand: ctap2.SubCmdGetKeyAgreement})
	if err != nil {
		return nil, err
	}
	if resp.KeyAgreement == nil {
		return nil, errors.New("ctap2 client: getKeyAgreement returned no key")
	}
	key, secret, err := p.Encapsulate(resp.KeyAgreement)
	if err != nil {
		return nil, fmt.Errorf("ctap2 client: key agreement: %w", err)
	}
	return &session{protocol: p, platformKey: key, sharedSecret: secret}, nil
}

// PINRetries returns the authenticator's pinRetries counter and whether a
// power cycle is needed before the next PIN attempt (three wrong PINs in a
// row).
func (c *Client) PINRetries(ctx context.Context) (retries int, powerCycle bool, err error) {
	resp, err := c.clientPIN(ctx, &clientPINRequest{SubCommand: ctap2.SubCmdGetPINRetries})
	if err != nil {
		return 0, false, err
	}
	return resp.PinRetries, resp.PowerCycleState, nil
}

// UVRetries returns the authenticator's uvRetries counter: the attempts of
// built-in user verification left.
func (c *Client) UVRetries(ctx context.Context) (int, error) {
	resp, err := c.clientPIN(ctx, &clientPINRequest{SubCommand: ctap2.SubCmdGetUVRetries})
	if err != nil {
		return 0, err
	}
	return resp.UVRetries, nil
}

// paddedPIN is paddedNewPin: the PIN's UTF-8 followed by zero bytes to 64
// bytes. The authenticator judges the rest (length in code points, …).
func paddedPIN(pin string) ([]byte, error) {
	if len(pin) > pinuv.MaxPINLength {
		return nil, fmt.Errorf("ctap2 client: a PIN has at most %d bytes", pinuv.MaxPINLength)
	}
	padded := make([]byte, pinuv.PaddedPINLength)
	copy(padded, pin)
	return padded, nil
}

// newPINSession checks and pads a new PIN, agrees a shared secret with
// pinUvAuthProtocol version, and returns the session and newPinEnc.
func (c *Client) newPINSession(ctx context.Context, version int, pin string) (*session, []byte, error) {
	padded, err := paddedPIN(pin)
	if err != nil {
		return nil, nil, err
	}
	s, err := c.keyAgreement(ctx, version)
	if err != nil {
		return nil, nil, err
	}
	newPinEnc, err := s.protocol.Encrypt(s.sharedSecret, padded)
	if err != nil {
		return nil, nil, err
	}
	return s, newPinEnc, nil
}

// SetPIN sets the first PIN of an authenticator that has none, with
// pinUvAuthProtocol version (0: the authenticator's preferred one).
func (c *Client) SetPIN(ctx context.Context, version int, pin string) error {
	s, newPinEnc, err := c.newPINSession(ctx, version, pin)
	if err != nil {
		return err
	}
	_, err = c.clientPIN(ctx, &clientPINRequest{
		PinUvAuthProtocol: s.protocol.Version(), SubCommand: ctap2.SubCmdSetPIN, KeyAgreement: s.platformKey,
		NewPinEnc: newPinEnc, PinUvAuthParam: s.protocol.Authenticate(s.sharedSecret, newPinEnc),
	})
	return err
}

// pinHashEnc encrypts LEFT(SHA-256(pin), 16) for the authenticator.
func (s *session) pinHashEnc(pin string) ([]byte, error) {
	sum := sha256.Sum256([]byte(pin))
	return s.protocol.Encrypt(s.sharedSecret, sum[:pinuv.PINHashLength])
}

// ChangePIN replaces the authenticator's PIN.
func (c *Client) ChangePIN(ctx context.Context, version int, oldPIN, newPIN string) error {
	s, newPinEnc, err := c.newPINSession(ctx, version, newPIN)
	if err != nil {
		return err
	}
	pinHashEnc, err := s.pinHashEnc(oldPIN)
	if err != nil {
		return err
	}
	_, err = c.clientPIN(ctx, &clientPINRequest{
		PinUvAuthProtocol: s.protocol.Version(), SubCommand: ctap2.SubCmdChangePIN, KeyAgreement: s.platformKey,
		PinHashEnc: pinHashEnc, NewPinEnc: newPinEnc,
		PinUvAuthParam: s.protocol.Authenticate(s.sharedSecret, append(slices.Clone(newPinEnc), pinHashEnc...)),
	})
	return err
}

// token decrypts the pinUvAuthToken of a response.
func (s *session) token(resp *clientPINResponse) (*Token, error) {
	value, err := s.protocol.Decrypt(s.sharedSecret, resp.PinUvAuthToken)
	if err != nil {
		return nil, fmt.Errorf("ctap2 client: decrypting the pinUvAuthToken: %w", err)
	}
	if len(value) != pinuv.PinUvAuthTokenLength && !(s.protocol.Version() == pinuv.ProtocolOneVersion && len(value) == 16) {
		return nil, fmt.Errorf("ctap2 client: pinUvAuthToken of %d bytes", len(value))
	}
	return &Token{Protocol: s.protocol, Value: value}, nil
}

// GetPinToken gets a pinUvAuthToken with the PIN the CTAP 2.0 way
// (getPinToken): it carries the mc and ga permissions. Use it with
// authenticators whose getInfo lacks the pinUvAuthToken option.
func (c *Client) GetPinToken(ctx context.Context, version int, pin string) (*Token, error) {
	return c.tokenUsingPIN(ctx, version, pin, ctap2.SubCmdGetPinToken, 0, "")
}

// GetPinUvAuthTokenUsingPIN gets a pinUvAuthToken with the PIN
// (getPinUvAuthTokenUsingPinWithPermissions), for permissions and, when rpID
// is not empty, bound to that RP.
func (c *Client) GetPinUvAuthTokenUsingPIN(ctx context.Context, version int, pin string, permissions pinuv.Permission, rpID string) (*Token, error) {
	return c.tokenUsingPIN(ctx, version, pin, ctap2.SubCmdGetPinUvAuthTokenUsingPinWithPermissions, permissions, rpID)
}

func (c *Client) tokenUsingPIN(ctx context.Context, version int, pin string, subCommand int, permissions pinuv.Permission, rpID string) (*Token, error) {
	s, err := c.keyAgreement(ctx, version)
	if err != nil {
		return nil, err
	}
	pinHashEnc, err := s.pinHashEnc(pin)
	if err != nil {
		return nil, err
	}
	resp, err := c.clientPIN(ctx, &clientPINRequest{
		PinUvAuthProtocol: s.protocol.Version(), SubCommand: subCommand, KeyAgreement: s.platformKey,
		PinHashEnc: pinHashEnc, Permissions: uint(permissions), RPID: rpID,
	})
	if err != nil {
		return nil, err
	}
	return s.token(resp)
}

// GetPinUvAuthTokenUsingUV gets a pinUvAuthToken through the
// authenticator's built-in user verification
// (getPinUvAuthTokenUsingUvWithPermissions).
func (c *Client) GetPinUvAuthTokenUsingUV(ctx context.Context, version int, permissions pinuv.Permission, rpID string) (*Token, error) {
	s, err := c.keyAgreement(ctx, version)
	if err != nil {
		return nil, err
	}
	resp, err := c.clientPIN(ctx, &clientPINRequest{
		PinUvAuthProtocol: s.protocol.Version(), SubCommand: ctap2.SubCmdGetPinUvAuthTokenUsingUvWithPermissions,
		KeyAgreement: s.platformKey, Permissions: uint(permissions), RPID: rpID,
	})
	if err != nil {
		return nil, err
	}
	return s.token(resp)
}
