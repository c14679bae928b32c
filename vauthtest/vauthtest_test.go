package vauthtest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/vauth/vauth/vauthtest"
	vauthwebauthn "github.com/vauth/vauth/webauthn"
)

// register runs a registration at a go-webauthn relying party with the
// options opts and returns what it stored, or the error.
func register(t *testing.T, c *vauthwebauthn.Client, opts ...webauthn.RegistrationOption) (*webauthn.Credential, error) {
	t.Helper()
	rp, err := webauthn.New(&webauthn.Config{RPID: "example.com", RPDisplayName: "Example", RPOrigins: []string{"https://example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	u := &user{id: []byte("alice")}
	creation, session, err := rp.BeginRegistration(u, opts...)
	if err != nil {
		t.Fatal(err)
	}
	options, err := json.Marshal(creation)
	if err != nil {
		t.Fatal(err)
	}
	response, err := c.CreateJSON(context.Background(), options)
	if err != nil {
		return nil, err
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(response)
	if err != nil {
		return nil, err
	}
	return rp.CreateCredential(u, *session, parsed)
}

func domName(err error) string {
	var we *vauthwebauthn.Error
	if errors.As(err, &we) {
		return we.Name
	}
	return ""
}

func TestOptions(t *testing.T) {
	aaguid := [16]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	direct := webauthn.WithConveyancePreference(protocol.PreferDirectAttestation)
	uvRequired := webauthn.WithAuthenticatorSelection(protocol.AuthenticatorSelection{UserVerification: protocol.VerificationRequired})
	for _, tc := range []struct {
		name       string
		opts       []vauthtest.Option
		reg        []webauthn.RegistrationOption
		format, uv string
	}{
		{"default", nil, []webauthn.RegistrationOption{direct}, "packed", ""},
		{"attestation none", []vauthtest.Option{vauthtest.WithAttestation("none")}, []webauthn.RegistrationOption{direct}, "none", ""},
		{"self attestation", []vauthtest.Option{vauthtest.WithAttestation("self")}, []webauthn.RegistrationOption{direct}, "packed", ""},
		{"PIN", []vauthtest.Option{vauthtest.WithPIN("4321")}, []webauthn.RegistrationOption{uvRequired}, "none", "uv"},
		{"built-in UV", []vauthtest.Option{vauthtest.WithUserVerification()}, []webauthn.RegistrationOption{uvRequired}, "none", "uv"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			key := vauthtest.New(t, append(tc.opts, vauthtest.WithAAGUID(aaguid))...)
			cred, err := register(t, key.Client("https://example.com"), tc.reg...)
			if err != nil {
				t.Fatal(err)
			}
			if cred.AttestationFormat != tc.format || cred.Flags.UserVerified != (tc.uv != "") {
				t.Errorf("format %s, UV %v; want %s, %q", cred.AttestationFormat, cred.Flags.UserVerified, tc.format, tc.uv)
			}
			if tc.format != "none" && !bytes.Equal(cred.Authenticator.AAGUID, aaguid[:]) {
				t.Errorf("AAGUID %x, want %x", cred.Authenticator.AAGUID, aaguid)
			}
		})
	}
}

func TestUserVerifiedAndPresence(t *testing.T) {
	key := vauthtest.New(t, vauthtest.WithUserVerification(), vauthtest.WithPresence(vauthtest.PresenceWait))
	c := key.Client("https://example.com")
	uvRequired := webauthn.WithAuthenticatorSelection(protocol.AuthenticatorSelection{UserVerification: protocol.VerificationRequired})
	if err := key.SetUserVerified(false); err != nil {
		t.Fatal(err)
	}
	if _, err := register(t, c, uvRequired); domName(err) != vauthwebauthn.NotAllowedError {
		t.Fatalf("registration with user verification failing = %v, want NotAllowedError", err)
	}
	if err := key.SetUserVerified(true); err != nil {
		t.Fatal(err)
	}
	// Built-in UV shows presence too, so ask for none to wait on presence.
	answered := make(chan error, 1)
	go func() {
		_, err := key.Answer(false, 10*time.Second)
		answered <- err
	}()
	if _, err := register(t, c); domName(err) != vauthwebauthn.NotAllowedError {
		t.Fatalf("registration denied by Answer = %v, want NotAllowedError", err)
	}
	if err := <-answered; err != nil {
		t.Fatal(err)
	}
	go func() {
		_, err := key.Answer(true, 10*time.Second)
		answered <- err
	}()
	if _, err := register(t, c); err != nil {
		t.Fatalf("registration approved by Answer: %v", err)
	}
	if err := <-answered; err != nil {
		t.Fatal(err)
	}
	if len(key.Pending()) != 0 {
		t.Errorf("pending after both were answered: %+v", key.Pending())
	}
}

func TestFaultsEventsAndClose(t *testing.T) {
	key, err := vauthtest.Start(vauthtest.WithFaults(vauthtest.Faults{Status: "CTAP2_ERR_OPERATION_DENIED", Command: "makeCredential"}))
	if err != nil {
		t.Fatal(err)
	}
	c := key.Client("https://example.com")
	if _, err := register(t, c); domName(err) != vauthwebauthn.NotAllowedError {
		t.Fatalf("registration with an armed status = %v, want NotAllowedError", err)
	}
	if key.Faults() != (vauthtest.Faults{}) {
		t.Errorf("faults still armed: %+v", key.Faults())
	}
	cred, err := register(t, c, webauthn.WithResidentKeyRequirement(protocol.ResidentKeyRequirementRequired))
	if err != nil {
		t.Fatal(err)
	}
	events := key.Events()
	if len(events) != 1 || events[0].Type != "registered" || !bytes.Equal(events[0].CredentialID, cred.ID) {
		t.Fatalf("events %+v, want the registration", events)
	}
	creds, err := key.Credentials()
	if err != nil || len(creds) != 1 || creds[0].UserName != "alice" {
		t.Fatalf("Credentials = %+v, %v", creds, err)
	}
	if err := key.Reset(); err != nil {
		t.Fatal(err)
	}
	if err := key.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := register(t, key.Client("https://example.com")); domName(err) != vauthwebauthn.UnknownError {
		t.Fatalf("registration after Close = %v, want UnknownError", err)
	}
}
