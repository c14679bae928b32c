package client

import (
	"context"
	"fmt"
	"slices"
)

// Extension identifiers of hmac-secret (CTAP 2.1 §12.5) and hmac-secret-mc
// (CTAP 2.2).
const (
	ExtHMACSecret   = "hmac-secret"
	ExtHMACSecretMC = "hmac-secret-mc"
)

// HMACSaltLength is the length of an hmac-secret salt and of each output.
const HMACSaltLength = 32

// HMACSecret is one use of the hmac-secret (getAssertion) or
// hmac-secret-mc (makeCredential) extension: the salts encrypted for the
// authenticator with a fresh key agreement, and the shared secret that
// decrypts its outputs.
type HMACSecret struct {
	s     *session
	input map[int]any
	salts int
}

// NewHMACSecret agrees a shared secret with the authenticator over
// pinUvAuthProtocol version (0: its preferred one) and encrypts salt1 and,
// when not nil, salt2 (HMACSaltLength bytes each).
func (c *Client) NewHMACSecret(ctx context.Context, version int, salt1, salt2 []byte) (*HMACSecret, error) {
	if len(salt1) != HMACSaltLength || (salt2 != nil && len(salt2) != HMACSaltLength) {
		return nil, fmt.Errorf("ctap2 client: hmac-secret salts are %d bytes", HMACSaltLength)
	}
	s, err := c.keyAgreement(ctx, version)
	if err != nil {
		return nil, err
	}
	saltEnc, err := s.protocol.Encrypt(s.sharedSecret, slices.Concat(salt1, salt2))
	if err != nil {
		return nil, err
	}
	h := &HMACSecret{s: s, salts: 1}
	if salt2 != nil {
		h.salts = 2
	}
	h.input = map[int]any{
		1: s.platformKey,
		2: saltEnc,
		3: s.protocol.Authenticate(s.sharedSecret, saltEnc),
		4: s.protocol.Version(),
	}
	return h, nil
}

// Input is the extension input to send under ExtHMACSecret or
// ExtHMACSecretMC.
func (h *HMACSecret) Input() map[int]any { return h.input }

// Outputs decrypts the extension output enc: output1, and output2 when two
// salts went in (else nil).
func (h *HMACSecret) Outputs(enc []byte) (output1, output2 []byte, err error) {
	out, err := h.s.protocol.Decrypt(h.s.sharedSecret, enc)
	if err != nil {
		return nil, nil, fmt.Errorf("ctap2 client: decrypting the hmac-secret output: %w", err)
	}
	if len(out) != h.salts*HMACSaltLength {
		return nil, nil, fmt.Errorf("ctap2 client: hmac-secret output of %d bytes for %d salts", len(out), h.salts)
	}
	if h.salts == 2 {
		return out[:HMACSaltLength], out[HMACSaltLength:], nil
	}
	return out, nil, nil
}
