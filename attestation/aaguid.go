package attestation

import (
	"encoding/hex"
	"fmt"
	"strings"
)

// DefaultAAGUID is vauth's own AAGUID, b8128e44-67f9-4fa1-824e-527d65b2e874:
// the authenticator model a relying party sees unless the user picks another.
var DefaultAAGUID = [16]byte{
	0xb8, 0x12, 0x8e, 0x44, 0x67, 0xf9, 0x4f, 0xa1,
	0x82, 0x4e, 0x52, 0x7d, 0x65, 0xb2, 0xe8, 0x74,
}

// ParseAAGUID reads an AAGUID written as a UUID: 32 hex digits, either plain
// or in the canonical 8-4-4-4-12 form with dashes, in either case.
func ParseAAGUID(s string) ([16]byte, error) {
	var aaguid [16]byte
	digits := s
	if len(s) == 36 {
		for _, i := range []int{8, 13, 18, 23} {
			if s[i] != '-' {
				return aaguid, badAAGUID(s)
			}
		}
		digits = s[0:8] + s[9:13] + s[14:18] + s[19:23] + s[24:36]
	}
	if len(digits) != 2*len(aaguid) {
		return aaguid, badAAGUID(s)
	}
	if _, err := hex.Decode(aaguid[:], []byte(digits)); err != nil {
		return [16]byte{}, badAAGUID(s)
	}
	return aaguid, nil
}

func badAAGUID(s string) error {
	return fmt.Errorf("attestation: invalid AAGUID %q: want a UUID, 32 hex digits with or without dashes (e.g. %s)", s, FormatAAGUID(DefaultAAGUID))
}

// FormatAAGUID writes an AAGUID in the canonical lower-case UUID form
// xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx.
func FormatAAGUID(aaguid [16]byte) string {
	h := hex.EncodeToString(aaguid[:])
	return strings.Join([]string{h[0:8], h[8:12], h[12:16], h[16:20], h[20:32]}, "-")
}
