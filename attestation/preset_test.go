package attestation

import (
	"strings"
	"testing"
)

func TestResolveAAGUID(t *testing.T) {
	tests := []struct {
		in      string
		want    string
		wantErr string
	}{
		{"vauth", "b8128e44-67f9-4fa1-824e-527d65b2e874", ""},
		{"microsoft-authenticator-ios", "90a3ccdf-635c-4729-a248-9b709135078f", ""},
		{"Microsoft-Authenticator-Android", "de1e552d-db1d-4423-a619-566b625cdc84", ""},
		{"yubikey-5", "cb69481e-8ff7-4039-93ec-0a2729a154a8", ""},
		{"yubikey-5-nfc", "ee882879-721c-4913-9775-3dfcce97072a", ""},
		{"titan-v2", "42b4fb4a-2866-43b2-9bf7-6c6669c2e5d3", ""},
		{"01234567-89ab-cdef-fedc-ba9876543210", "01234567-89ab-cdef-fedc-ba9876543210", ""},
		{"yubikey", "", "invalid AAGUID"},
		{"", "", "titan-v2"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ResolveAAGUID(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("ResolveAAGUID(%q) = %v, %v; want an error with %q", tc.in, got, err, tc.wantErr)
				}
				return
			}
			if err != nil || FormatAAGUID(got) != tc.want {
				t.Fatalf("ResolveAAGUID(%q) = %s, %v; want %s", tc.in, FormatAAGUID(got), err, tc.want)
			}
			if p, ok := PresetOf(got); ok && len(tc.in) != 36 && !strings.EqualFold(p.Name, tc.in) {
				t.Errorf("PresetOf(%s) = %s", tc.want, p.Name)
			}
		})
	}
}

// Preset names and AAGUIDs are unique, so a name and an AAGUID each name
// one preset.
func TestPresetsUnique(t *testing.T) {
	names, aaguids := map[string]bool{}, map[[16]byte]bool{}
	for _, p := range Presets {
		if names[p.Name] || aaguids[p.AAGUID] {
			t.Errorf("preset %s repeats a name or AAGUID", p.Name)
		}
		names[p.Name], aaguids[p.AAGUID] = true, true
	}
}
