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

// Preset is a well-known authenticator model's AAGUID that vauth can present
// (--aaguid NAME), so that a relying party's AAGUID allow- and block-lists
// can be tested. vauth is not that product: it only borrows its AAGUID, and
// its metadata (internal/mds) says so.
type Preset struct {
	Name   string   // what --aaguid takes
	Model  string   // the product whose AAGUID it is
	AAGUID [16]byte //
}

// Presets lists the AAGUID presets. The passkey providers are the
// device-bound ones Entra ID administrators allow by AAGUID; the security
// keys are common models. The AAGUIDs are the ones these products publish
// in the FIDO Metadata Service.
var Presets = []Preset{
	{"vauth", "vauth", DefaultAAGUID},
	{"microsoft-authenticator-ios", "Microsoft Authenticator (iOS)", mustAAGUID("90a3ccdf-635c-4729-a248-9b709135078f")},
	{"microsoft-authenticator-android", "Microsoft Authenticator (Android)", mustAAGUID("de1e552d-db1d-4423-a619-566b625cdc84")},
	{"yubikey-5", "YubiKey 5 Series", mustAAGUID("cb69481e-8ff7-4039-93ec-0a2729a154a8")},
	{"yubikey-5-nfc", "YubiKey 5 Series with NFC", mustAAGUID("ee882879-721c-4913-9775-3dfcce97072a")},
	{"titan-v2", "Google Titan Security Key v2", mustAAGUID("42b4fb4a-2866-43b2-9bf7-6c6669c2e5d3")},
}

func mustAAGUID(s string) [16]byte {
	a, err := ParseAAGUID(s)
	if err != nil {
		panic(err)
	}
	return a
}

// PresetOf returns the preset whose AAGUID is aaguid.
func PresetOf(aaguid [16]byte) (Preset, bool) {
	for _, p := range Presets {
		if p.AAGUID == aaguid {
			return p, true
		}
	}
	return Preset{}, false
}

// PresetNames lists the preset names, for flag help.
func PresetNames() []string {
	names := make([]string, len(Presets))
	for i, p := range Presets {
		names[i] = p.Name
	}
	return names
}

// ResolveAAGUID reads an AAGUID given as a preset name or as a UUID (see
// ParseAAGUID).
func ResolveAAGUID(s string) ([16]byte, error) {
	for _, p := range Presets {
		if strings.EqualFold(s, p.Name) {
			return p.AAGUID, nil
		}
	}
	a, err := ParseAAGUID(s)
	if err != nil {
		return a, fmt.Errorf("%w, or a preset: %s", err, strings.Join(PresetNames(), ", "))
	}
	return a, nil
}
