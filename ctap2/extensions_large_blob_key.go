package ctap2

import (
	"crypto/rand"
	"fmt"

	"github.com/vauth/vauth/keystore"
)

// largeBlobKey (CTAP 2.1 §12.3): makeCredential gives a new discoverable
// credential a random largeBlobKey, returned in the response (not in the
// authenticator data) and kept with the credential; getAssertion returns
// the key of each credential that has one. The platform encrypts the
// credential's entry of the large-blob array (authenticatorLargeBlobs,
// large_blobs.go) with it. The input is true; false is
// CTAP2_ERR_INVALID_OPTION.

// decodeLargeBlobKey reads the input of either command: whether it is
// present (and true).
func decodeLargeBlobKey(m params) (bool, error) {
	v, present, err := field[bool](m, extLargeBlobKey, extLargeBlobKey)
	switch {
	case err != nil || !present:
		return false, err
	case !v:
		return false, statusErrorf(CTAP2ErrInvalidOption, "largeBlobKey extension input false")
	}
	return true, nil
}

// newLargeBlobKey makes the largeBlobKey of a new credential.
func newLargeBlobKey() ([]byte, error) {
	key := make([]byte, keystore.LargeBlobKeyLength)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("largeBlobKey: %w", err)
	}
	return key, nil
}
