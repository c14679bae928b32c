package keystore

import (
	"crypto"
	"errors"
)

// ErrImportUnsupported: the backend cannot take in a private key made
// elsewhere. A TPM keystore's keys are born in the TPM and never leave it,
// so there is nothing to import them into.
var ErrImportUnsupported = errors.New("keystore: import is not supported on this keystore")

// ImportRequest describes a credential whose private key was made outside
// the keystore, as the WebDriver virtual authenticator's "Add Credential"
// brings it: a test imports a key it holds, so that it can sign in with a
// credential its relying party already knows.
type ImportRequest struct {
	RPID     string // required for a discoverable credential
	RPIDHash [32]byte
	User     User // required (ID) for a discoverable credential
	// PrivateKey is an *ecdsa.PrivateKey on P-256 (ES256), P-384 (ES384)
	// or P-521 (ES512), an ed25519.PrivateKey (EdDSA) or an
	// *rsa.PrivateKey (RS256 or PS256), as x509.ParsePKCS8PrivateKey
	// returns them.
	PrivateKey crypto.PrivateKey
	// Algorithm is the COSE algorithm of the credential; 0 means the usual
	// one for the key (RS256 for RSA). Only RSA keys have a choice.
	Algorithm    int
	Discoverable bool
	CredProtect  uint8
	// SignCount is the counter's current value: the first assertion with
	// the credential carries a larger one.
	SignCount uint32
}

// Importer is implemented by keystores that can import credentials. It is
// optional: callers check for it with a type assertion, and an
// implementation may still refuse with an error wrapping
// ErrImportUnsupported.
type Importer interface {
	// Import stores the credential as Create stores a new one and returns
	// it; the keystore chooses its ID. A discoverable credential replaces
	// one of the same RP and user ID.
	Import(req ImportRequest) (*Credential, error)
}
