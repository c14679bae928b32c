package decode

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// Authenticator data layout (WebAuthn §6.1).
const (
	rpIDHashLen    = 32
	authDataMinLen = rpIDHashLen + 1 + 4
	aaguidLen      = 16
	maxCredIDLen   = 1023 // WebAuthn: credential IDs are at most 1023 bytes
)

// Authenticator data flags (WebAuthn §6.1).
const (
	FlagUP = 0x01 // user present
	FlagUV = 0x04 // user verified
	FlagBE = 0x08 // backup eligible
	FlagBS = 0x10 // backed up
	FlagAT = 0x40 // attested credential data included
	FlagED = 0x80 // extension data included
)

// flagNames are the flags in the order the text output lists them.
var flagNames = []struct {
	bit  byte
	name string
}{
	{FlagUP, "UP"}, {FlagUV, "UV"}, {FlagBE, "BE"}, {FlagBS, "BS"}, {FlagAT, "AT"}, {FlagED, "ED"},
}

// AuthenticatorData is decoded authenticator data.
type AuthenticatorData struct {
	Raw      Bytes `json:"raw"`
	RPIDHash Bytes `json:"rpIdHash"`
	// RPID is the RP ID whose SHA-256 is RPIDHash, when the client data's
	// origin names it (its host or a parent domain).
	RPID      string   `json:"rpId,omitempty"`
	Flags     byte     `json:"flags"`
	FlagNames []string `json:"flagNames"`
	SignCount uint32   `json:"signCount"`
	// Attested is the attested credential data (flag AT).
	Attested *AttestedCredential `json:"attestedCredentialData,omitempty"`
	// Extensions are the authenticator extension outputs (flag ED).
	Extensions map[string]any `json:"extensions,omitempty"`
}

// AttestedCredential is attested credential data (WebAuthn §6.5.1).
type AttestedCredential struct {
	AAGUID       string `json:"aaguid"`
	CredentialID Bytes  `json:"credentialId"`
	PublicKey    *Key   `json:"publicKey"`
}

// flagList names the flags set in f.
func flagList(f byte) []string {
	names := []string{}
	for _, fl := range flagNames {
		if f&fl.bit != 0 {
			names = append(names, fl.name)
		}
	}
	if rfu := f &^ (FlagUP | FlagUV | FlagBE | FlagBS | FlagAT | FlagED); rfu != 0 {
		names = append(names, fmt.Sprintf("RFU(0x%02x)", rfu))
	}
	return names
}

// parseAuthenticatorData decodes authenticator data; bytes left over after
// what the flags announce are an error.
func parseAuthenticatorData(data []byte) (*AuthenticatorData, error) {
	if len(data) < authDataMinLen {
		return nil, fmt.Errorf("authenticator data of %d bytes; at least %d", len(data), authDataMinLen)
	}
	ad := &AuthenticatorData{
		Raw:       append(Bytes(nil), data...),
		RPIDHash:  append(Bytes(nil), data[:rpIDHashLen]...),
		Flags:     data[rpIDHashLen],
		SignCount: binary.BigEndian.Uint32(data[rpIDHashLen+1:]),
	}
	ad.FlagNames = flagList(ad.Flags)
	rest := data[authDataMinLen:]
	if ad.Flags&FlagAT != 0 {
		if len(rest) < aaguidLen+2 {
			return nil, errors.New("authenticator data: flag AT set but attested credential data truncated")
		}
		var aaguid [16]byte
		copy(aaguid[:], rest)
		idLen := int(binary.BigEndian.Uint16(rest[aaguidLen:]))
		rest = rest[aaguidLen+2:]
		if idLen > maxCredIDLen || idLen > len(rest) {
			return nil, fmt.Errorf("authenticator data: credential ID length %d", idLen)
		}
		ac := &AttestedCredential{AAGUID: formatUUID(aaguid), CredentialID: append(Bytes(nil), rest[:idLen]...)}
		rest = rest[idLen:]
		var keyItem map[int]any
		after, err := decMode.UnmarshalFirst(rest, &keyItem)
		if err != nil {
			return nil, fmt.Errorf("authenticator data: credential public key: %w", err)
		}
		if ac.PublicKey, err = ParseCOSEKey(rest[:len(rest)-len(after)]); err != nil {
			return nil, fmt.Errorf("authenticator data: credential public key: %w", err)
		}
		ad.Attested, rest = ac, after
	}
	if ad.Flags&FlagED != 0 {
		var ext map[string]any
		after, err := decMode.UnmarshalFirst(rest, &ext)
		if err != nil {
			return nil, fmt.Errorf("authenticator data: extensions: %w", err)
		}
		ad.Extensions = jsonable(ext).(map[string]any)
		rest = after
	}
	if len(rest) != 0 {
		return nil, fmt.Errorf("authenticator data: %d bytes left over after what flags 0x%02x announce", len(rest), ad.Flags)
	}
	return ad, nil
}

// matchRPID names the RP ID behind the rpIdHash when it is the origin's
// host or one of its parent domains.
func (ad *AuthenticatorData) matchRPID(origin string) {
	u, err := url.Parse(origin)
	if err != nil || u.Hostname() == "" {
		return
	}
	for host := u.Hostname(); host != ""; {
		if sum := sha256.Sum256([]byte(host)); string(sum[:]) == string(ad.RPIDHash) {
			ad.RPID = host
			return
		}
		_, parent, ok := strings.Cut(host, ".")
		if !ok {
			return
		}
		host = parent
	}
}

// formatUUID writes an AAGUID in the usual 8-4-4-4-12 form.
func formatUUID(b [16]byte) string {
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
