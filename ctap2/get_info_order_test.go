package ctap2

import (
	"slices"
	"testing"

	"github.com/vauth/vauth/keystore"
)

func TestCanonicalStrings(t *testing.T) {
	for _, tc := range []struct{ in, want []string }{
		{nil, []string{}},
		{[]string{"usb"}, []string{"usb"}},
		{[]string{"internal", "usb", "nfc", "ble", "hybrid"}, []string{"ble", "nfc", "usb", "hybrid", "internal"}},
		{[]string{"FIDO_2_1_PRE", "FIDO_2_1", "U2F_V2", "FIDO_2_0"}, []string{"U2F_V2", "FIDO_2_0", "FIDO_2_1", "FIDO_2_1_PRE"}},
		{[]string{"b", "B", "a"}, []string{"B", "a", "b"}}, // bytewise: upper case first
	} {
		in := slices.Clone(tc.in)
		if got := canonicalStrings(tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("canonicalStrings(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if !slices.Equal(in, tc.in) {
			t.Errorf("canonicalStrings sorted its argument in place: %q", tc.in)
		}
	}
}

// TestGetInfoArrayOrder: versions, extensions and transports come in CTAP2
// canonical order; pinUvAuthProtocols and algorithms in order of
// preference, whatever the configuration lists first.
func TestGetInfoArrayOrder(t *testing.T) {
	for _, tc := range []struct {
		name       string
		modify     func(*Config)
		versions   []string
		transports []string
		algorithms []int
	}{
		{"defaults", func(*Config) {}, []string{"U2F_V2", "FIDO_2_0", "FIDO_2_1", "FIDO_2_1_PRE"}, []string{"usb"}, []int{keystore.ES256, keystore.EdDSA, keystore.ES384, keystore.ES512, keystore.RS256, keystore.PS256, keystore.ES256K}},
		{"configured", func(c *Config) {
			c.Transports = []string{"internal", "usb", "nfc"}
			c.Algorithms = []int{keystore.EdDSA, keystore.ES256}
		}, []string{"U2F_V2", "FIDO_2_0", "FIDO_2_1", "FIDO_2_1_PRE"}, []string{"nfc", "usb", "internal"}, []int{keystore.EdDSA, keystore.ES256}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := newTestDevice(t, tc.modify)
			info := d.mustGetInfo()
			var versions, extensions, transports []string
			var protocols []int
			var algorithms []algorithmDescriptor
			mustUnmarshal(t, info[getInfoVersions], &versions)
			mustUnmarshal(t, info[getInfoExtensions], &extensions)
			mustUnmarshal(t, info[getInfoTransports], &transports)
			mustUnmarshal(t, info[getInfoPinUvAuthProtocols], &protocols)
			mustUnmarshal(t, info[getInfoAlgorithms], &algorithms)
			wantExtensions := []string{"credBlob", "credProtect", "hmac-secret", "largeBlobKey", "minPinLength", "hmac-secret-mc", "thirdPartyPayment"}
			for _, c := range []struct {
				what      string
				got, want []string
			}{
				{"versions", versions, tc.versions},
				{"extensions", extensions, wantExtensions},
				{"transports", transports, tc.transports},
			} {
				if !slices.Equal(c.got, c.want) {
					t.Errorf("%s %q, want %q", c.what, c.got, c.want)
				}
			}
			if !slices.Equal(protocols, []int{2, 1}) {
				t.Errorf("pinUvAuthProtocols %v, want [2 1]", protocols)
			}
			algs := make([]int, len(algorithms))
			for i, a := range algorithms {
				algs[i] = a.Alg
			}
			if !slices.Equal(algs, tc.algorithms) {
				t.Errorf("algorithms %v, want %v", algs, tc.algorithms)
			}
		})
	}
}
