package vauthtest_test

import (
	"testing"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/vauth/vauth/ctap2"
	"github.com/vauth/vauth/vauthtest"
)

// TestWithProfile: a CTAP 2.0 key with a PIN needs it for every
// registration (it has no makeCredUvNotRqd), so the client gives it even
// when the relying party discourages user verification, and the credential
// comes back user-verified; a CTAP 2.1 key registers without it. A
// U2F-only key cannot serve this CTAP2 client at all.
func TestWithProfile(t *testing.T) {
	discouraged := webauthn.WithAuthenticatorSelection(protocol.AuthenticatorSelection{UserVerification: protocol.VerificationDiscouraged})
	for _, tc := range []struct {
		profile ctap2.Profile
		uv      bool
	}{{ctap2.ProfileCTAP21, false}, {ctap2.ProfileCTAP20, true}} {
		t.Run(tc.profile.String(), func(t *testing.T) {
			key := vauthtest.New(t, vauthtest.WithProfile(tc.profile), vauthtest.WithPIN("4321"))
			if key.Profile() != tc.profile {
				t.Fatalf("Profile() = %v", key.Profile())
			}
			cred, err := register(t, key.Client("https://example.com"), discouraged)
			if err != nil {
				t.Fatal(err)
			}
			if cred.Flags.UserVerified != tc.uv {
				t.Errorf("UV %v, want %v", cred.Flags.UserVerified, tc.uv)
			}
		})
	}
	key := vauthtest.New(t, vauthtest.WithProfile(ctap2.ProfileU2F))
	if _, err := register(t, key.Client("https://example.com"), discouraged); err == nil {
		t.Error("a CTAP2 registration on a U2F-only key succeeded")
	}
}
