package attestation

import "github.com/vauth/vauth/keystore"

// None returns the attester of the "none" format (WebAuthn §8.7): no
// signature and an empty attStmt, for users who want to reveal nothing
// about the authenticator.
func None() Attester { return none{} }

type none struct{}

func (none) Attest(keystore.Keystore, *keystore.Credential, []byte, []byte) (Statement, error) {
	// An empty map, not nil: attStmt must encode as {} rather than null.
	return Statement{Format: FormatNone, AttStmt: map[string]any{}}, nil
}
