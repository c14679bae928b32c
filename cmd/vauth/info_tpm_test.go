package main

import (
	"bytes"
	"strings"
	"testing"
)

// printInfo's algorithms row says, for a TPM keystore, how what is offered
// compares with what the TPM supports.
func TestInfoTPMAlgorithms(t *testing.T) {
	tpm := []string{"ES256", "ES384", "RS256", "PS256"}
	for _, tc := range []struct {
		keystore string
		offered  []string
		want     string
	}{
		{"tpm", tpm, "ES256, ES384, RS256, PS256 (what this TPM supports)\n"},
		{"tpm", []string{"RS256", "ES256"}, "RS256, ES256 (this TPM supports ES256, ES384, RS256, PS256)\n"},
		{"soft", []string{"ES256", "EdDSA"}, "ES256, EdDSA\n"},
	} {
		var out bytes.Buffer
		printInfo(&out, infoReport{Keystore: tc.keystore, Daemon: true, Algorithms: tc.offered, KeystoreAlgorithms: tpm})
		if !strings.Contains(out.String(), "algorithms             "+tc.want) {
			t.Errorf("%s keystore offering %v:\n%s\nwant an algorithms row %q", tc.keystore, tc.offered, out.String(), tc.want)
		}
	}
}
