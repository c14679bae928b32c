package ctap2

import (
	"encoding/binary"
	"fmt"

	"github.com/vauth/vauth/internal/cose"
	"github.com/vauth/vauth/keystore"
)

// Flags of authenticator data (WebAuthn §6.1).
const (
	flagUP = 0x01 // user present
	flagUV = 0x04 // user verified
	flagAT = 0x40 // attested credential data included
	flagED = 0x80 // extension data included
)

// authenticatorData is the authenticator data structure (WebAuthn §6.1)
// that registrations and assertions sign.
type authenticatorData struct {
	rpIDHash  [32]byte
	flags     byte // UP and UV; AT and ED follow from the fields below
	signCount uint32
	// attestedCredential, when set, is the new credential of a
	// registration, described with aaguid.
	attestedCredential *keystore.Credential
	aaguid             [16]byte
	// extensions is the CBOR map of authenticator extension outputs, if any.
	extensions []byte
}

// marshal encodes the authenticator data: rpIdHash, flags, signCount, then
// the attested credential data (AAGUID, credential ID length and ID, COSE
// public key) and the extension outputs when present. room is spare
// capacity after them, so that what a signature covers (the data and the
// clientDataHash) can be appended without copying.
func (d *authenticatorData) marshal(room int) ([]byte, error) {
	flags := d.flags
	var publicKey []byte
	if c := d.attestedCredential; c != nil {
		if len(c.ID) > 0xffff {
			return nil, fmt.Errorf("credential ID of %d bytes", len(c.ID))
		}
		var err error
		if publicKey, err = cose.Marshal(c.PublicKey, c.Algorithm); err != nil {
			return nil, fmt.Errorf("credential public key: %w", err)
		}
		flags |= flagAT
	}
	if len(d.extensions) > 0 {
		flags |= flagED
	}
	attested := 0
	if c := d.attestedCredential; c != nil {
		attested = len(d.aaguid) + 2 + len(c.ID) + len(publicKey)
	}
	out := make([]byte, 0, len(d.rpIDHash)+1+4+attested+len(d.extensions)+room)
	out = append(out, d.rpIDHash[:]...)
	out = append(out, flags)
	out = binary.BigEndian.AppendUint32(out, d.signCount)
	if c := d.attestedCredential; c != nil {
		out = append(out, d.aaguid[:]...)
		out = binary.BigEndian.AppendUint16(out, uint16(len(c.ID)))
		out = append(out, c.ID...)
		out = append(out, publicKey...)
	}
	return append(out, d.extensions...), nil
}
