package decode

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/vauth/vauth/attestation"
	"github.com/vauth/vauth/ctap2"
	"github.com/vauth/vauth/ctap2/client"
	"github.com/vauth/vauth/internal/presence"
	"github.com/vauth/vauth/keystore"
	"github.com/vauth/vauth/keystore/soft"
	"github.com/vauth/vauth/keystore/tpm"
	"github.com/vauth/vauth/keystore/tpm/tpmtest"
	"github.com/vauth/vauth/webauthn"
)

// TestVauthFormats decodes what vauth itself produces in every attestation
// format it emits — none, packed self, packed basic with vauth's CA,
// fido-u2f, and tpm on a simulated TPM — through the WebAuthn client, as a
// relying party receives it: each attestation verifies with the type
// go-webauthn gives it (basic_surrogate is its name for self attestation),
// and each
// assertion's signature verifies with the registered key (and not with
// another).
func TestVauthFormats(t *testing.T) {
	aaguid := attestation.DefaultAAGUID
	for _, tc := range []struct {
		name, format, attType string
		alg                   int
		tpm                   bool
		attester              func(t *testing.T, ks keystore.Keystore) attestation.Attester
	}{
		{"none", "none", "none", keystore.ES256, false, func(*testing.T, keystore.Keystore) attestation.Attester { return attestation.None() }},
		{"self ES256", "packed", "basic_surrogate", keystore.ES256, false, func(*testing.T, keystore.Keystore) attestation.Attester { return attestation.Self() }},
		{"self EdDSA", "packed", "basic_surrogate", keystore.EdDSA, false, func(*testing.T, keystore.Keystore) attestation.Attester { return attestation.Self() }},
		{"self ES384", "packed", "basic_surrogate", keystore.ES384, false, func(*testing.T, keystore.Keystore) attestation.Attester { return attestation.Self() }},
		{"self ES512", "packed", "basic_surrogate", keystore.ES512, false, func(*testing.T, keystore.Keystore) attestation.Attester { return attestation.Self() }},
		{"self ES256K", "packed", "basic_surrogate", keystore.ES256K, false, func(*testing.T, keystore.Keystore) attestation.Attester { return attestation.Self() }},
		{"self RS256", "packed", "basic_surrogate", keystore.RS256, false, func(*testing.T, keystore.Keystore) attestation.Attester { return attestation.Self() }},
		{"self PS256", "packed", "basic_surrogate", keystore.PS256, false, func(*testing.T, keystore.Keystore) attestation.Attester { return attestation.Self() }},
		{"packed RS256", "packed", "basic_full", keystore.RS256, false, func(t *testing.T, ks keystore.Keystore) attestation.Attester {
			a, err := attestation.New(attestation.KindPacked, aaguid, ks, nil)
			if err != nil {
				t.Fatal(err)
			}
			return a
		}},
		{"packed", "packed", "basic_full", keystore.EdDSA, false, func(t *testing.T, ks keystore.Keystore) attestation.Attester {
			a, err := attestation.New(attestation.KindPacked, aaguid, ks, nil)
			if err != nil {
				t.Fatal(err)
			}
			return a
		}},
		{"fido-u2f", "fido-u2f", "basic_full", keystore.ES256, false, func(t *testing.T, ks keystore.Keystore) attestation.Attester {
			ca, err := attestation.LoadOrCreateCA(ks)
			if err != nil {
				t.Fatal(err)
			}
			a, err := attestation.U2F(ca, ks)
			if err != nil {
				t.Fatal(err)
			}
			return a
		}},
		{"tpm", "tpm", "attca", keystore.ES256, true, func(t *testing.T, ks keystore.Keystore) attestation.Attester {
			a, err := attestation.New(attestation.KindTPM, aaguid, ks, nil)
			if err != nil {
				t.Fatal(err)
			}
			return a
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var ks keystore.Keystore
			var err error
			if tc.tpm {
				ks, err = tpm.Open(t.TempDir(), tpm.Options{TPM: tpmtest.Simulator(t)})
			} else {
				ks, err = soft.Open(t.TempDir(), soft.Options{})
			}
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { ks.Close() })
			auth, err := ctap2.New(ctap2.Config{AAGUID: aaguid, Keystore: ks, Attester: tc.attester(t, ks), Presence: presence.Always()})
			if err != nil {
				t.Fatal(err)
			}
			wc := webauthn.NewClient(client.Direct(auth), "https://example.com")
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			reg, err := wc.Create(ctx, &webauthn.CreationOptions{
				RP:               webauthn.RPEntity{ID: "example.com", Name: "Example"},
				User:             webauthn.UserEntity{ID: []byte("user-1"), Name: "alice", DisplayName: "Alice"},
				Challenge:        []byte("a challenge of enough bytes here"),
				PubKeyCredParams: []webauthn.CredentialParameter{{Type: "public-key", Alg: tc.alg}},
				Attestation:      "direct",
			})
			if err != nil {
				t.Fatal(err)
			}
			r := decodeJSONOf(t, reg, Options{})
			if r.Kind != KindRegistration || r.Attestation.Format != tc.format || !r.Attestation.Result.OK || r.Attestation.Type != tc.attType {
				t.Fatalf("registration: kind %s, format %s, type %s, %+v", r.Kind, r.Attestation.Format, r.Attestation.Type, r.Attestation.Result)
			}
			ad := r.AuthenticatorData
			if ad.RPID != "example.com" || ad.Flags&FlagUP == 0 || ad.Attested.PublicKey.Algorithm != tc.alg || len(r.Problems) != 0 {
				t.Errorf("authenticator data %+v, problems %q", ad, r.Problems)
			}
			if ad.Attested.AAGUID != attestation.FormatAAGUID(aaguid) {
				t.Errorf("AAGUID %s, want vauth's", ad.Attested.AAGUID)
			}
			if tc.attType == "basic_full" || tc.attType == "attca" {
				if len(r.Attestation.Certificates) == 0 || r.Attestation.Certificates[0].IssuedByNext == nil && len(r.Attestation.Certificates) > 1 {
					t.Errorf("certificates %+v", r.Attestation.Certificates)
				}
			}
			key := r.CredentialKey()

			for range 2 {
				got, err := wc.Get(ctx, &webauthn.RequestOptions{
					Challenge: []byte("another challenge, long enough.."), RPID: "example.com",
					AllowCredentials: []webauthn.CredentialDescriptor{{Type: "public-key", ID: reg.RawID}},
				})
				if err != nil {
					t.Fatal(err)
				}
				a := decodeJSONOf(t, got, Options{PublicKey: key})
				if a.Kind != KindAssertion || !a.Signature.Result.OK || a.AuthenticatorData.SignCount == 0 {
					t.Errorf("assertion: %+v, signCount %d", a.Signature.Result, a.AuthenticatorData.SignCount)
				}
				other := decodeJSONOf(t, got, Options{PublicKey: otherKey(t)})
				if !other.Signature.Result.Failed() {
					t.Errorf("assertion verifies with another key: %+v", other.Signature.Result)
				}
			}
		})
	}
}

func decodeJSONOf(t *testing.T, v any, opts Options) *Report {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	r, err := Decode(b, opts)
	if err != nil {
		t.Fatalf("Decode(%s): %v", b, err)
	}
	var text strings.Builder
	r.WriteText(&text)
	if !strings.Contains(text.String(), r.Kind) {
		t.Errorf("text output lacks the kind:\n%s", text.String())
	}
	return r
}

func otherKey(t *testing.T) *Key {
	t.Helper()
	k, err := ParseCOSEKey(unhex(t, loadVectors(t).Assertions[0].CredentialPublicKey))
	if err != nil {
		t.Fatal(err)
	}
	return k
}
