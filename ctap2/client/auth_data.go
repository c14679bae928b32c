package client

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/fxamacker/cbor/v2"
)

// Flags of authenticator data (WebAuthn §6.1).
const (
	FlagUP = 0x01 // user present
	FlagUV = 0x04 // user verified
	FlagAT = 0x40 // attested credential data included
	FlagED = 0x80 // extension data included
)

// AuthData is authenticator data (WebAuthn §6.1) taken apart.
type AuthData struct {
	RPIDHash  [32]byte
	Flags     byte
	SignCount uint32
	// AAGUID, CredentialID and PublicKey (a COSE_Key, still encoded) are
	// the attested credential data, present when Flags has FlagAT.
	AAGUID       [16]byte
	CredentialID []byte
	PublicKey    cbor.RawMessage
	// Extensions are the authenticator extension outputs by identifier,
	// each still encoded; nil without FlagED.
	Extensions map[string]cbor.RawMessage
}

// authDataFixed is the length of rpIdHash, flags and signCount.
const authDataFixed = 32 + 1 + 4

// ParseAuthData takes authenticator data apart. The slices it returns alias
// raw.
func ParseAuthData(raw []byte) (*AuthData, error) {
	if len(raw) < authDataFixed {
		return nil, fmt.Errorf("ctap2 client: authenticator data of %d bytes", len(raw))
	}
	d := &AuthData{Flags: raw[32], SignCount: binary.BigEndian.Uint32(raw[33:])}
	copy(d.RPIDHash[:], raw)
	rest := raw[authDataFixed:]
	if d.Flags&FlagAT != 0 {
		if len(rest) < len(d.AAGUID)+2 {
			return nil, errors.New("ctap2 client: truncated attested credential data")
		}
		copy(d.AAGUID[:], rest)
		n := int(binary.BigEndian.Uint16(rest[len(d.AAGUID):]))
		rest = rest[len(d.AAGUID)+2:]
		if len(rest) < n {
			return nil, errors.New("ctap2 client: truncated credential ID in authenticator data")
		}
		d.CredentialID, rest = rest[:n], rest[n:]
		var key cbor.RawMessage
		tail, err := decMode.UnmarshalFirst(rest, &key)
		if err != nil {
			return nil, fmt.Errorf("ctap2 client: bad credential public key: %w", err)
		}
		d.PublicKey, rest = rest[:len(rest)-len(tail)], tail
	}
	if d.Flags&FlagED != 0 {
		tail, err := decMode.UnmarshalFirst(rest, &d.Extensions)
		if err != nil {
			return nil, fmt.Errorf("ctap2 client: bad extension outputs: %w", err)
		}
		rest = tail
	}
	if len(rest) != 0 {
		return nil, fmt.Errorf("ctap2 client: %d bytes after the authenticator data", len(rest))
	}
	return d, nil
}

// Extension decodes the output of extension id into v; false when there is
// none.
func (d *AuthData) Extension(id string, v any) (bool, error) {
	raw, ok := d.Extensions[id]
	if !ok {
		return false, nil
	}
	if err := decMode.Unmarshal(raw, v); err != nil {
		return true, fmt.Errorf("ctap2 client: extension output %q: %w", id, err)
	}
	return true, nil
}
