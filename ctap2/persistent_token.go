package ctap2

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
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
//
// While a persistent token exists, getInfo carries encIdentifier (0x19): a
// random device identifier, kept until authenticatorReset, encrypted with
// a key derived from the token, so that a platform holding the token
// recognises this authenticator and knows which token to use with it.
// encCredStoreState (0x1E) is not implemented.

// deviceIdentifierLength is the length of the device identifier: one AES
// block.
const deviceIdentifierLength = aes.BlockSize

// hkdfInfoEncIdentifier is the HKDF info of encIdentifier's key.
const hkdfInfoEncIdentifier = "encIdentifier"

// issuePersistentToken returns the persistent pinUvAuthToken encrypted for
// the platform, making it first if there is none.
func (a *Authenticator) issuePersistentToken(p pinuv.Protocol, secret []byte) (any, error) {
	if a.pin.PersistentToken == nil {
		token, id := make([]byte, pinuv.PinUvAuthTokenLength), make([]byte, deviceIdentifierLength)
		if _, err := rand.Read(token); err != nil {
			return nil, fmt.Errorf("making the persistent pinUvAuthToken: %w", err)
		}
		if _, err := rand.Read(id); err != nil {
			return nil, fmt.Errorf("making the device identifier: %w", err)
		}
		err := a.updatePINState(func(s *pinState) {
			s.PersistentToken = token
			if s.DeviceIdentifier == nil {
				s.DeviceIdentifier = id
			}
		})
		if err != nil {
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

// encryptWithPersistentToken encrypts a getInfo member (plain, whole AES
// blocks) for the holder of the persistent token: iv ||
// AES-128-CBC(HKDF-SHA-256(salt 32 zero bytes, token, info, 16 bytes), iv,
// plain), with a fresh random iv.
func encryptWithPersistentToken(token, plain []byte, info string) ([]byte, error) {
	key, err := hkdf.Key(sha256.New, token, make([]byte, sha256.Size), info, 16)
	if err != nil {
		return nil, fmt.Errorf("deriving the %s key: %w", info, err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	out := make([]byte, aes.BlockSize+len(plain))
	if _, err := rand.Read(out[:aes.BlockSize]); err != nil {
		return nil, err
	}
	cipher.NewCBCEncrypter(block, out[:aes.BlockSize]).CryptBlocks(out[aes.BlockSize:], plain)
	return out, nil
}
