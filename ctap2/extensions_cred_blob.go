package ctap2

import "github.com/vauth/vauth/keystore"

// credBlob (CTAP 2.1 §12.2): makeCredential stores up to
// keystore.MaxCredBlobLength bytes with the credential (getInfo's
// maxCredBlobLength) and outputs whether it did; a longer one is not
// stored, which is an output of false rather than an error (see
// makeCredentialExtensionData). getAssertion's "credBlob": true outputs
// the stored bytes, empty when there are none.

// credBlobOutput is the getAssertion output of a credential.
func credBlobOutput(c *keystore.Credential) []byte {
	if c.CredBlob == nil {
		return []byte{}
	}
	return c.CredBlob
}
