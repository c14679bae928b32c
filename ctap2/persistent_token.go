package ctap2

import (
	"crypto/rand"
	"fmt"

	"github.com/vauth/vauth/ctap2/pinuv"
)

// The persistent pinUvAuthToken (CTAP 2.2, getInfo option perCredMgmtRO):
// getPinUvAuthTokenUsingPinWithPermissions (or …UsingUvWithPermissions)
// with the pcmr permission alone returns it, encrypted like any token. It
// serves the read-only subcommands of authenticatorCredentialManagement
// (getCredsMetadata, enumerateRPsBegin, enumerateCredentialsBegin, and so
// the getNext ones after them), bound to no RP, with no usage timer, so
// that a platform can list passkeys without asking for the PIN each time.
// It is one random value for both PIN/UV auth protocols, made when first
// asked for, kept in the persistent PIN state so that it survives restarts
// (power cycles), and handed out again until the PIN changes
// (changePIN, or a new PIN through SetPINState) or authenticatorReset.
// Issuing it leaves the ordinary pinUvAuthToken alone. Anything else
// done with it (deleteCredential, updateUserInformation, the other
// commands, the preview command 0x41) is CTAP2_ERR_PIN_AUTH_INVALID.

// issuePersistentToken returns the persistent pinUvAuthToken encrypted for
// the platform, making it first if there is none.
func (a *Authenticator) issuePersistentToken(p pinuv.Protocol, secret []byte) (any, error) {
	if a.pin.PersistentToken == nil {
		token := make([]byte, pinuv.PinUvAuthTokenLength)
		if _, err := rand.Read(token); err != nil {
			return nil, fmt.Errorf("making the persistent pinUvAuthToken: %w", err)
		}
		if err := a.updatePINState(func(s *pinState) { s.PersistentToken = token }); err != nil {
			return nil, err
		}
	}
	enc, err := p.Encrypt(secret, a.pin.PersistentToken)
	if err != nil {
		return nil, fmt.Errorf("encrypting the persistent pinUvAuthToken: %w", err)
	}
	return map[int]any{clientPINRespPinUvAuthToken: enc}, nil
}

// persistentTokenVerifies reports whether signature is message
// authenticated with the persistent pinUvAuthToken.
func (a *Authenticator) persistentTokenVerifies(p pinuv.Protocol, message, signature []byte) bool {
	return a.pin.PersistentToken != nil && p.Verify(a.pin.PersistentToken, message, signature)
}

// persistentTokenAllows reports whether the persistent pinUvAuthToken may
// authorise a credential management subcommand: the read-only ones.
func persistentTokenAllows(subCommand uint64) bool {
	switch subCommand {
	case SubCmdGetCredsMetadata, SubCmdEnumerateRPsBegin, SubCmdEnumerateCredentialsBegin:
		return true
	}
	return false
}
