package webauthn_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	gowebauthn "github.com/go-webauthn/webauthn/webauthn"

	"github.com/go-webauthn/webauthn/protocol"

	"github.com/vauth/vauth/ctap2"
	"github.com/vauth/vauth/ctap2/client"
	"github.com/vauth/vauth/internal/daemon"
	"github.com/vauth/vauth/internal/demo"
	"github.com/vauth/vauth/internal/presence"
	"github.com/vauth/vauth/webauthn"
)

// An authenticator as relying parties meet them: one that can verify the
// user with a PIN, one with built-in verification, one that cannot.
type authKind struct {
	name string
	pin  string
	uv   ctap2.Presence
}

func (k authKind) canVerify() bool { return k.pin != "" || k.uv != nil }

// TestRelyingPartyMatrix runs every combination of options a real relying
// party sends through go-webauthn: attestation conveyance, residentKey,
// userVerification, excludeCredentials and extensions (credProps,
// credProtect, prf, largeBlob) at registration; allowCredentials empty and
// not, userVerification and prf at sign-in; on
// authenticators with a PIN, with built-in verification and with neither.
// go-webauthn must accept every response, or the client must refuse as a
// browser would (NotAllowedError when the user cannot be verified,
// InvalidStateError for an excluded credential).
func TestRelyingPartyMatrix(t *testing.T) {
	attestations := []protocol.ConveyancePreference{protocol.PreferNoAttestation, protocol.PreferIndirectAttestation, protocol.PreferDirectAttestation, protocol.PreferEnterpriseAttestation}
	residentKeys := []protocol.ResidentKeyRequirement{protocol.ResidentKeyRequirementRequired, protocol.ResidentKeyRequirementPreferred, protocol.ResidentKeyRequirementDiscouraged}
	uvs := []protocol.UserVerificationRequirement{protocol.VerificationRequired, protocol.VerificationPreferred, protocol.VerificationDiscouraged}
	// The extensions relying parties ask for at registration; credProtect at
	// level 1, so that it hides no passkey from a sign-in without user
	// verification.
	extensions := gowebauthn.WithExtensions(
		gowebauthn.WithExtensionCredProps(),
		gowebauthn.WithExtensionCredentialProtectionPolicy(protocol.CredentialProtectionPolicyUserVerificationOptional, false),
		gowebauthn.WithExtensionPRFSupport(),
		gowebauthn.WithExtensionLargeBlobSupport(protocol.LargeBlobSupportPreferred),
	)
	for _, kind := range []authKind{{name: "PIN", pin: "1379"}, {name: "built-in UV", uv: presence.Always()}, {name: "no UV"}} {
		t.Run(kind.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
			defer cancel()
			d, err := daemon.Open(daemon.Options{Store: t.TempDir(), Keystore: "soft", Attestation: "packed", Presence: presence.Always(), UV: kind.uv})
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			if kind.pin != "" {
				if err := client.New(client.Direct(d.Authenticator)).SetPIN(ctx, 0, kind.pin); err != nil {
					t.Fatal(err)
				}
			}
			c, err := demo.Connect(ctx, d, demo.Origin)
			if err != nil {
				t.Fatal(err)
			}
			c.PIN = kind.pin
			rp, err := demo.NewRP(demo.RPID, demo.Origin)
			if err != nil {
				t.Fatal(err)
			}
			// Registrations exclude a credential of another authenticator,
			// as relying parties list every credential the account has.
			elsewhere := []protocol.CredentialDescriptor{{Type: protocol.PublicKeyCredentialType, CredentialID: []byte("a credential of another authenticator")}}
			other := &demo.User{ID: []byte("other"), Name: "other"}
			if _, _, err := register(ctx, rp, c, other); err != nil {
				t.Fatal(err)
			}
			n := 0
			for _, att := range attestations {
				for _, rk := range residentKeys {
					for _, uv := range uvs {
						n++
						name := fmt.Sprintf("%s-%s-%s", att, rk, uv)
						u := &demo.User{ID: []byte(fmt.Sprintf("user-%d", n)), Name: name, DisplayName: name}
						opts := []gowebauthn.RegistrationOption{
							gowebauthn.WithConveyancePreference(att),
							gowebauthn.WithAuthenticatorSelection(protocol.AuthenticatorSelection{ResidentKey: rk, UserVerification: uv}),
							gowebauthn.WithExclusions(elsewhere),
							extensions,
						}
						cred, results, err := register(ctx, rp, c, u, opts...)
						if uv == protocol.VerificationRequired && !kind.canVerify() {
							if domName(err) != webauthn.NotAllowedError {
								t.Fatalf("%s: registration = %v, want NotAllowedError (the user cannot be verified)", name, err)
							}
							continue
						}
						if err != nil {
							t.Fatalf("%s: registration: %v", name, err)
						}
						discoverable := rk != protocol.ResidentKeyRequirementDiscouraged
						// An authenticator that can verify the user makes a
						// discoverable credential only for a verified user
						// (CTAP 2.1 §6.1.2 step 7), so the client verifies.
						wantUV := kind.canVerify() && (uv != protocol.VerificationDiscouraged || discoverable)
						if !cred.Flags.UserPresent || cred.Flags.UserVerified != wantUV {
							t.Errorf("%s: registration flags %+v, want UV %v", name, cred.Flags, wantUV)
						}
						if props, _ := results["credProps"].(map[string]any); props["rk"] != discoverable {
							t.Errorf("%s: credProps %v, want rk %v", name, results["credProps"], discoverable)
						}
						// hmac-secret backs prf for every credential; a large
						// blob needs a discoverable one.
						if prf, _ := results["prf"].(map[string]any); prf["enabled"] != true {
							t.Errorf("%s: prf %v, want enabled", name, results["prf"])
						}
						if lb, _ := results["largeBlob"].(map[string]any); lb["supported"] != discoverable {
							t.Errorf("%s: largeBlob %v, want supported %v", name, results["largeBlob"], discoverable)
						}
						wantFormat := map[protocol.ConveyancePreference]string{protocol.PreferNoAttestation: "none"}[att]
						if wantFormat == "" {
							wantFormat = "packed"
						}
						if cred.AttestationFormat != wantFormat {
							t.Errorf("%s: attestation format %q, want %q", name, cred.AttestationFormat, wantFormat)
						}
						signIn(ctx, t, rp, c, u, kind, discoverable, name)
					}
				}
			}
			// Excluding a credential this authenticator holds for the RP, of
			// whichever account, fails as in a browser.
			_, _, err = register(ctx, rp, c, &demo.User{ID: []byte("again"), Name: "again"},
				gowebauthn.WithExclusions(gowebauthn.Credentials(other.Credentials).CredentialDescriptors()),
				gowebauthn.WithAuthenticatorSelection(protocol.AuthenticatorSelection{UserVerification: protocol.VerificationDiscouraged}))
			if domName(err) != webauthn.InvalidStateError {
				t.Fatalf("registration excluding a credential it holds = %v, want InvalidStateError", err)
			}
		})
	}
}

// signIn signs u in with every userVerification, by username
// (allowCredentials) and, for a passkey, without (empty allowCredentials),
// evaluating the prf extension each time: the same credential and user
// verification give the same output.
func signIn(ctx context.Context, t *testing.T, rp *demo.RP, c *webauthn.Client, u *demo.User, kind authKind, discoverable bool, name string) {
	t.Helper()
	prf := gowebauthn.WithAssertionExtensions(gowebauthn.WithExtensionPRF(protocol.PRFValues{First: []byte("matrix salt")}))
	for _, uv := range []protocol.UserVerificationRequirement{protocol.VerificationRequired, protocol.VerificationPreferred, protocol.VerificationDiscouraged} {
		var firstPRF string
		for _, allow := range []bool{true, false} {
			if !allow && !discoverable {
				continue
			}
			flags, prfOut, err := login(ctx, rp, c, u, allow, gowebauthn.WithUserVerification(uv), prf)
			if uv == protocol.VerificationRequired && !kind.canVerify() {
				if domName(err) != webauthn.NotAllowedError {
					t.Fatalf("%s: sign-in (uv %s) = %v, want NotAllowedError", name, uv, err)
				}
				continue
			}
			if err != nil {
				t.Fatalf("%s: sign-in (uv %s, allowCredentials %v): %v", name, uv, allow, err)
			}
			wantUV := kind.canVerify() && uv != protocol.VerificationDiscouraged
			if !flags.HasUserPresent() || flags.HasUserVerified() != wantUV {
				t.Errorf("%s: sign-in (uv %s, allowCredentials %v): flags %08b, want UP and UV %v", name, uv, allow, flags, wantUV)
			}
			if len(prfOut) != 43 || (firstPRF != "" && prfOut != firstPRF) { // 32 bytes in base64url
				t.Errorf("%s: sign-in (uv %s, allowCredentials %v): prf output %q, want 32 bytes equal to %q", name, uv, allow, prfOut, firstPRF)
			}
			firstPRF = prfOut
		}
	}
}

// login is a sign-in as demo.RP.Login runs it, by username when allow,
// else with a passkey, that returns the flags of the assertion and the
// prf extension's first output.
func login(ctx context.Context, rp *demo.RP, c *webauthn.Client, u *demo.User, allow bool, opts ...gowebauthn.LoginOption) (protocol.AuthenticatorFlags, string, error) {
	var assertion *protocol.CredentialAssertion
	var session *gowebauthn.SessionData
	var err error
	if allow {
		assertion, session, err = rp.WebAuthn.BeginLogin(u, opts...)
	} else {
		assertion, session, err = rp.WebAuthn.BeginDiscoverableLogin(opts...)
	}
	if err != nil {
		return 0, "", err
	}
	options, err := json.Marshal(assertion)
	if err != nil {
		return 0, "", err
	}
	body, err := c.GetJSON(ctx, options)
	if err != nil {
		return 0, "", err
	}
	var posted struct {
		ClientExtensionResults struct {
			PRF struct {
				Results struct {
					First string `json:"first"`
				} `json:"results"`
			} `json:"prf"`
		} `json:"clientExtensionResults"`
	}
	if err := json.Unmarshal(body, &posted); err != nil {
		return 0, "", err
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(body)
	if err != nil {
		return 0, "", fmt.Errorf("go-webauthn rejected the response: %w", err)
	}
	var cred *gowebauthn.Credential
	if allow {
		cred, err = rp.WebAuthn.ValidateLogin(u, *session, parsed)
	} else {
		_, cred, err = rp.WebAuthn.ValidatePasskeyLogin(func(_, handle []byte) (gowebauthn.User, error) {
			if string(handle) != string(u.ID) {
				return nil, fmt.Errorf("signed in as %q, want %q", handle, u.ID)
			}
			return u, nil
		}, *session, parsed)
	}
	if err != nil {
		return 0, "", fmt.Errorf("go-webauthn rejected the assertion: %w (%s)", err, devInfo(err))
	}
	if cred.Authenticator.CloneWarning {
		return 0, "", errors.New("go-webauthn saw the counter go back")
	}
	for i := range u.Credentials {
		if string(u.Credentials[i].ID) == string(cred.ID) {
			u.Credentials[i].Authenticator.SignCount = cred.Authenticator.SignCount
		}
	}
	return parsed.Response.AuthenticatorData.Flags, posted.ClientExtensionResults.PRF.Results.First, nil
}

// register is a registration as demo.RP.Register runs it, that also
// returns the client extension results the page would have posted.
func register(ctx context.Context, rp *demo.RP, c *webauthn.Client, u *demo.User, opts ...gowebauthn.RegistrationOption) (*gowebauthn.Credential, map[string]any, error) {
	creation, session, err := rp.WebAuthn.BeginRegistration(u, opts...)
	if err != nil {
		return nil, nil, err
	}
	options, err := json.Marshal(creation)
	if err != nil {
		return nil, nil, err
	}
	body, err := c.CreateJSON(ctx, options)
	if err != nil {
		return nil, nil, err
	}
	var posted struct {
		ClientExtensionResults map[string]any `json:"clientExtensionResults"`
	}
	if err := json.Unmarshal(body, &posted); err != nil {
		return nil, nil, err
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(body)
	if err != nil {
		return nil, nil, fmt.Errorf("go-webauthn rejected the response: %w", err)
	}
	cred, err := rp.WebAuthn.CreateCredential(u, *session, parsed)
	if err != nil {
		return nil, nil, fmt.Errorf("go-webauthn rejected the registration: %w (%s)", err, devInfo(err))
	}
	u.Credentials = append(u.Credentials, *cred)
	rp.Enroll(u)
	return cred, posted.ClientExtensionResults, nil
}

func devInfo(err error) string {
	var pe *protocol.Error
	if errors.As(err, &pe) {
		return pe.DevInfo
	}
	return ""
}

func domName(err error) string {
	var we *webauthn.Error
	if errors.As(err, &we) {
		return we.Name
	}
	return ""
}
