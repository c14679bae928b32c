package webauthn

import "github.com/fxamacker/cbor/v2"

var encMode, _ = cbor.CTAP2EncOptions().EncMode()

// attestationObject is the WebAuthn attestation object the RP receives.
type attestationObject struct {
	Fmt      string          `cbor:"fmt"`
	AttStmt  cbor.RawMessage `cbor:"attStmt"`
	AuthData []byte          `cbor:"authData"`
}
