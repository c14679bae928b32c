package demo

import (
	"context"
	"errors"
	"testing"
	"time"

	gowebauthn "github.com/go-webauthn/webauthn/webauthn"

	"github.com/go-webauthn/webauthn/protocol"

	"github.com/vauth/vauth/ctap2"
	"github.com/vauth/vauth/ctap2/client"
	"github.com/vauth/vauth/internal/daemon"
	"github.com/vauth/vauth/internal/presence"
	"github.com/vauth/vauth/webauthn"
)

// TestUserVerificationRequired registers a passkey and signs in with
// userVerification "required" at go-webauthn, which refuses any response
// without the UV flag: once with the PIN (set through ctap2/client, given
// to the WebAuthn client as a user types it into the browser), once with
// built-in user verification (vauth run --uv always). Counters increase.
func TestUserVerificationRequired(t *testing.T) {
	const pin = "9513"
	for _, tc := range []struct {
		name string
		uv   ctap2.Presence
		pin  string
	}{
		{"PIN", nil, pin},
		{"built-in UV", presence.Always(), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := daemon.Open(daemon.Options{Store: t.TempDir(), Keystore: "soft", Attestation: "packed", Presence: presence.Always(), UV: tc.uv})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { d.Close() })
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			if tc.pin != "" {
				if err := client.New(client.Direct(d.Authenticator)).SetPIN(ctx, 0, tc.pin); err != nil {
					t.Fatal(err)
				}
			}
			c, err := Connect(ctx, d, Origin)
			if err != nil {
				t.Fatal(err)
			}
			c.PIN = tc.pin
			rp, err := NewRP(RPID, Origin)
			if err != nil {
				t.Fatal(err)
			}
			u := &User{ID: []byte("uv-user"), Name: "uv@example.com", DisplayName: "UV User"}
			cred, err := rp.Register(ctx, c, u, gowebauthn.WithAuthenticatorSelection(protocol.AuthenticatorSelection{
				ResidentKey:      protocol.ResidentKeyRequirementRequired,
				UserVerification: protocol.VerificationRequired,
			}))
			if err != nil {
				t.Fatalf("registration with user verification required: %v", err)
			}
			if !cred.Flags.UserVerified || !cred.Flags.UserPresent {
				t.Fatalf("registration flags %+v: want UP and UV", cred.Flags)
			}
			last := cred.Authenticator.SignCount
			for i, who := range []*User{nil, u, nil} { // passkey, by username, passkey
				got, cred, err := rp.Login(ctx, c, who, gowebauthn.WithUserVerification(protocol.VerificationRequired))
				if err != nil {
					t.Fatalf("sign-in %d with user verification required: %v", i, err)
				}
				if got != u || !cred.Flags.UserVerified || !cred.Flags.UserPresent {
					t.Fatalf("sign-in %d: user %v, flags %+v", i, got.Name, cred.Flags)
				}
				if cred.Authenticator.SignCount <= last || cred.Authenticator.CloneWarning {
					t.Fatalf("sign-in %d: counter %d after %d", i, cred.Authenticator.SignCount, last)
				}
				last = cred.Authenticator.SignCount
			}

			// Without the PIN, the client cannot verify the user and says so
			// as a browser would.
			if tc.pin != "" {
				c.PIN = ""
				_, _, err := rp.Login(ctx, c, u, gowebauthn.WithUserVerification(protocol.VerificationRequired))
				var we *webauthn.Error
				if !errors.As(err, &we) || we.Name != webauthn.NotAllowedError {
					t.Fatalf("sign-in without the PIN: %v, want NotAllowedError", err)
				}
				c.PIN = "0000"
				_, _, err = rp.Login(ctx, c, u, gowebauthn.WithUserVerification(protocol.VerificationRequired))
				if !errors.As(err, &we) || we.Name != webauthn.NotAllowedError {
					t.Fatalf("sign-in with a wrong PIN: %v, want NotAllowedError", err)
				}
			}
		})
	}
}
