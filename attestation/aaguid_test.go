package attestation

import (
	"strings"
	"testing"
)

func TestParseAAGUID(t *testing.T) {
	other := [16]byte{0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0xfe, 0xdc, 0xba, 0x98, 0x76, 0x54, 0x32, 0x10}
	tests := []struct {
		in   string
		want [16]byte
		ok   bool
	}{
		{"b8128e44-67f9-4fa1-824e-527d65b2e874", DefaultAAGUID, true},
		{"B8128E44-67F9-4FA1-824E-527D65B2E874", DefaultAAGUID, true},
		{"b8128e4467f94fa1824e527d65b2e874", DefaultAAGUID, true},
		{"B8128e4467F94fa1824E527d65b2E874", DefaultAAGUID, true},
		{"01234567-89ab-cdef-fedc-ba9876543210", other, true},
		{"00000000-0000-0000-0000-000000000000", [16]byte{}, true},
		{"", [16]byte{}, false},
		{"b8128e44-67f9-4fa1-824e-527d65b2e87", [16]byte{}, false},    // one digit short
		{"b8128e44-67f9-4fa1-824e-527d65b2e8744", [16]byte{}, false},  // one digit too many
		{"b8128e4-467f9-4fa1-824e-527d65b2e874", [16]byte{}, false},   // dash misplaced
		{"b8128e44_67f9_4fa1_824e_527d65b2e874", [16]byte{}, false},   // not dashes
		{"{b8128e44-67f9-4fa1-824e-527d65b2e874}", [16]byte{}, false}, // braces
		{"g8128e44-67f9-4fa1-824e-527d65b2e874", [16]byte{}, false},   // not hex
		{"b8128e4467f94fa1824e527d65b2e87", [16]byte{}, false},        // 31 digits
		{"b8128e44-67f94fa1824e527d65b2e874", [16]byte{}, false},      // partly dashed
		{"urn:uuid:b8128e44-67f9-4fa1-824e-527d65b2e874", [16]byte{}, false},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseAAGUID(tc.in)
			if !tc.ok {
				if err == nil || !strings.Contains(err.Error(), "invalid AAGUID") {
					t.Fatalf("ParseAAGUID(%q) = %x, %v; want an invalid AAGUID error", tc.in, got, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseAAGUID(%q): %v", tc.in, err)
			}
			if got != tc.want {
				t.Errorf("ParseAAGUID(%q) = %x, want %x", tc.in, got, tc.want)
			}
		})
	}
}

func TestFormatAAGUID(t *testing.T) {
	tests := []struct {
		in   [16]byte
		want string
	}{
		{DefaultAAGUID, "b8128e44-67f9-4fa1-824e-527d65b2e874"},
		{[16]byte{}, "00000000-0000-0000-0000-000000000000"},
		{[16]byte{0: 0xff, 15: 0x01}, "ff000000-0000-0000-0000-000000000001"},
	}
	for _, tc := range tests {
		if got := FormatAAGUID(tc.in); got != tc.want {
			t.Errorf("FormatAAGUID(%x) = %q, want %q", tc.in, got, tc.want)
		}
		if back, err := ParseAAGUID(tc.want); err != nil || back != tc.in {
			t.Errorf("ParseAAGUID(%q) = %x, %v; want %x", tc.want, back, err, tc.in)
		}
	}
}
