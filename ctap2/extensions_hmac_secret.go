package ctap2

import (
	"crypto/hmac"
	"crypto/sha256"
	"fmt"

	"github.com/vauth/vauth/ctap2/pinuv"
	"github.com/vauth/vauth/keystore"
)

// hmac-secret (CTAP 2.1 §12.5) and hmac-secret-mc (CTAP 2.2): the
// platform sends one or two 32-byte salts encrypted with a PIN/UV auth
// protocol's shared secret, and gets back HMAC-SHA-256(CredRandom, salt)
// for each, encrypted the same way. CredRandom is the credential's secret,
// one with user verification and one without, which the keystore derives
// from a device secret (keystore.Keystore.CredRandom): the same salt gives
// the same output for the same credential and UV state, and nothing the
// relying party sees reveals it. getAssertion's "hmac-secret" computes the
// outputs of each credential it asserts; makeCredential's "hmac-secret"
// true outputs true, and "hmac-secret-mc" computes the new credential's
// outputs at once. WebAuthn's prf extension is built on it.

// Keys of the hmac-secret and hmac-secret-mc input map.
const (
	hmacSecretKeyAgreement      paramKey = 0x01
	hmacSecretSaltEnc           paramKey = 0x02
	hmacSecretSaltAuth          paramKey = 0x03
	hmacSecretPinUvAuthProtocol paramKey = 0x04
)

// hmacSecretSaltLength is the length of one salt.
const hmacSecretSaltLength = 32

// hmacSecretInput is the input map as it arrived.
type hmacSecretInput struct {
	keyAgreement []byte // the platform's COSE_Key, still encoded
	saltEnc      []byte
	saltAuth     []byte
	protocol     uint64 // pinUvAuthProtocol; 1 when absent
}

// decodeHMACSecretInput reads the input map: keyAgreement, saltEnc and
// saltAuth are required (CTAP2_ERR_MISSING_PARAMETER), pinUvAuthProtocol
// defaults to 1.
func decodeHMACSecretInput(raw []byte, name string) (*hmacSecretInput, error) {
	m, err := decodeValue[params](raw, name)
	if err != nil {
		return nil, err
	}
	in := &hmacSecretInput{protocol: pinuv.ProtocolOneVersion}
	if err := checkMapType(m, hmacSecretKeyAgreement, name+".keyAgreement"); err != nil {
		return nil, err
	}
	var ok bool
	if in.keyAgreement, ok = m.lookup(hmacSecretKeyAgreement); !ok {
		return nil, statusErrorf(CTAP2ErrMissingParameter, "%s.keyAgreement is missing", name)
	}
	if in.saltEnc, err = requiredField[[]byte](m, hmacSecretSaltEnc, name+".saltEnc"); err != nil {
		return nil, err
	}
	if in.saltAuth, err = requiredField[[]byte](m, hmacSecretSaltAuth, name+".saltAuth"); err != nil {
		return nil, err
	}
	if v, present, err := field[uint64](m, hmacSecretPinUvAuthProtocol, name+".pinUvAuthProtocol"); err != nil {
		return nil, err
	} else if present {
		in.protocol = v
	}
	return in, nil
}

// hmacSecret is an input checked and decrypted: the salts, and the shared
// secret the outputs are encrypted with.
type hmacSecret struct {
	protocol     pinuv.Protocol
	sharedSecret []byte
	salts        [][]byte // one or two
}

// openHMACSecret checks an input: a supported pinUvAuthProtocol
// (CTAP1_ERR_INVALID_PARAMETER), a key agreement with the authenticator's
// key (CTAP1_ERR_INVALID_PARAMETER), saltAuth authenticating saltEnc with
// the shared secret (CTAP2_ERR_PIN_AUTH_INVALID), and one or two salts
// inside (CTAP1_ERR_INVALID_LENGTH).
func (a *Authenticator) openHMACSecret(in *hmacSecretInput) (*hmacSecret, error) {
	p, err := a.pinUvAuthProtocol(in.protocol)
	if err != nil {
		return nil, err
	}
	secret, err := sharedSecret(p, in.keyAgreement)
	if err != nil {
		return nil, err
	}
	if !p.Verify(secret, in.saltEnc, in.saltAuth) {
		return nil, statusErrorf(CTAP2ErrPinAuthInvalid, "hmac-secret saltAuth does not authenticate saltEnc")
	}
	salt, err := p.Decrypt(secret, in.saltEnc)
	if err != nil {
		return nil, &StatusError{Status: CTAP1ErrInvalidLength, Err: fmt.Errorf("hmac-secret saltEnc: %w", err)}
	}
	if len(salt) != hmacSecretSaltLength && len(salt) != 2*hmacSecretSaltLength {
		return nil, statusErrorf(CTAP1ErrInvalidLength, "hmac-secret salt of %d bytes, want 32 or 64", len(salt))
	}
	h := &hmacSecret{protocol: p, sharedSecret: secret, salts: [][]byte{salt[:hmacSecretSaltLength]}}
	if len(salt) > hmacSecretSaltLength {
		h.salts = append(h.salts, salt[hmacSecretSaltLength:])
	}
	return h, nil
}

// output is the encrypted output of a credential: HMAC-SHA-256(CredRandom,
// salt) of each salt, concatenated, with CredRandomWithUV when the
// request verified the user.
func (h *hmacSecret) output(ks keystore.Keystore, c *keystore.Credential, uv bool) ([]byte, error) {
	credRandom, err := ks.CredRandom(c, uv)
	if err != nil {
		return nil, fmt.Errorf("hmac-secret: %w", err)
	}
	defer clear(credRandom)
	var out []byte
	for _, salt := range h.salts {
		m := hmac.New(sha256.New, credRandom)
		m.Write(salt)
		out = m.Sum(out)
	}
	defer clear(out)
	enc, err := h.protocol.Encrypt(h.sharedSecret, out)
	if err != nil {
		return nil, fmt.Errorf("hmac-secret: encrypting the output: %w", err)
	}
	return enc, nil
}
