// Package attestation makes the attestation statements of new credentials:
// the WebAuthn formats none, packed (self and basic with an x5c chain from
// vauth's own attestation CA or one the user supplies), and later fido-u2f
// and tpm, and the certificates they carry.
package attestation

import "github.com/vauth/vauth/keystore"

// Format identifiers (WebAuthn §8).
const (
	FormatNone   = "none"
	FormatPacked = "packed"
)

// Statement is the fmt and attStmt of an attestation object.
type Statement struct {
	Format  string
	AttStmt map[string]any
}

// Attester makes the attestation statement of a credential just created.
type Attester interface {
	// Attest signs authData || clientDataHash as its format requires; self
	// attestation signs with the credential's own key through ks.
	Attest(ks keystore.Keystore, cred *keystore.Credential, authData, clientDataHash []byte) (Statement, error)
}
