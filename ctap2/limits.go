package ctap2

import (
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/vauth/vauth/keystore"
)

// How the authenticator holds the entity fields of a request to their
// limits, before anything reaches the keystore:
//
//   - user.id is at most keystore.MaxUserIDLength (64) bytes, a user
//     handle's maximum (WebAuthn §5.4.3), and not empty for a discoverable
//     credential, which keeps it. A longer one is CTAP1_ERR_INVALID_LENGTH
//     ("invalid message or item length", CTAP 2.1 §8.2): neither CTAP 2.0
//     nor 2.1 names a status for it, and CTAP2_ERR_LIMIT_EXCEEDED is for a
//     number of items.
//   - user.name, user.displayName and rp.name are truncated to
//     keystore.MaxUserNameLength (64) bytes: WebAuthn §5.4.1 and §5.4.3 let
//     an authenticator truncate them to no less than 64 bytes, and §6.4.1
//     asks that a truncation not cut a UTF-8 sequence. What is stored and
//     returned is the truncated value.
//   - icon (deprecated: CTAP 2.1 dropped it) is checked to be a text string
//     of any length and dropped.
//   - rp.id is kept whole: its only limit is the message size.

// truncateName truncates an entity name to keystore.MaxUserNameLength
// bytes at a UTF-8 character boundary (WebAuthn §6.4.1). Text strings of a
// request are valid UTF-8 (decodeValue checks).
func truncateName(s string) string {
	if len(s) <= keystore.MaxUserNameLength {
		return s
	}
	n := keystore.MaxUserNameLength
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// checkUserID checks a request's user.id against the user handle's
// maximum.
func checkUserID(id []byte, name string) error {
	if len(id) > keystore.MaxUserIDLength {
		return statusErrorf(CTAP1ErrInvalidLength, "%s of %d bytes, more than %d", name, len(id), keystore.MaxUserIDLength)
	}
	return nil
}

// keystoreError gives an error of the keystore the status it stands for:
// a field the keystore refuses as too long or short is
// CTAP1_ERR_INVALID_LENGTH, an algorithm it cannot make keys for
// CTAP2_ERR_UNSUPPORTED_ALGORITHM; anything else stays an internal error.
func keystoreError(what string, err error) error {
	switch {
	case errors.Is(err, keystore.ErrInvalidLength):
		return &StatusError{Status: CTAP1ErrInvalidLength, Err: err}
	case errors.Is(err, keystore.ErrUnsupportedAlgorithm):
		return &StatusError{Status: CTAP2ErrUnsupportedAlgorithm, Err: err}
	}
	return fmt.Errorf("%s: %w", what, err)
}
