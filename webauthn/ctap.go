package webauthn

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/fxamacker/cbor/v2"
)

var (
	encMode, _ = cbor.CTAP2EncOptions().EncMode()
	decMode, _ = cbor.DecOptions{MaxNestedLevels: 16}.DecMode()
)

// attestationObject is the WebAuthn attestation object the RP receives.
type attestationObject struct {
	Fmt      string          `cbor:"fmt"`
	AttStmt  cbor.RawMessage `cbor:"attStmt"`
	AuthData []byte          `cbor:"authData"`
}

// attestedCredential pulls the credential ID and COSE public key out of the
// attested credential data in authData (WebAuthn §6.5.1).
func attestedCredential(authData []byte) (id, coseKey []byte, err error) {
	const fixed = 32 + 1 + 4 + 16 // rpIdHash, flags, signCount, AAGUID
	const flagAT = 0x40
	if len(authData) < fixed+2 || authData[32]&flagAT == 0 {
		return nil, nil, errors.New("webauthn: authenticator data has no attested credential")
	}
	n := int(binary.BigEndian.Uint16(authData[fixed:]))
	rest := authData[fixed+2:]
	if len(rest) < n {
		return nil, nil, errors.New("webauthn: truncated credential ID in authenticator data")
	}
	id, rest = rest[:n], rest[n:]
	var raw cbor.RawMessage
	tail, err := decMode.UnmarshalFirst(rest, &raw)
	if err != nil {
		return nil, nil, fmt.Errorf("webauthn: bad credential public key: %w", err)
	}
	return id, rest[:len(rest)-len(tail)], nil
}
