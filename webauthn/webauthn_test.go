package webauthn

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/vauth/vauth/attestation"
	"github.com/vauth/vauth/ctap2"
	"github.com/vauth/vauth/ctap2/client"
	"github.com/vauth/vauth/keystore/soft"
)

func TestParseOptions(t *testing.T) {
	bare := `{"rp":{"id":"example.com","name":"Ex"},"user":{"id":"dXNlcg","name":"u","displayName":"U"},"challenge":"AAEC","pubKeyCredParams":[{"type":"public-key","alg":-7}],"extensions":{"credProps":true}}`
	for _, in := range []string{bare, `{"publicKey":` + bare + `}`} {
		o, err := ParseCreationOptions([]byte(in))
		if err != nil {
			t.Fatal(err)
		}
		if o.RP.ID != "example.com" || string(o.User.ID) != "user" || len(o.Challenge) != 3 || o.PubKeyCredParams[0].Alg != -7 {
			t.Errorf("parsed %+v", o)
		}
	}
	padded := `{"challenge":"AAECAw==","rpId":"example.com","allowCredentials":[{"type":"public-key","id":"AQ"}]}`
	r, err := ParseRequestOptions([]byte(padded))
	if err != nil || len(r.Challenge) != 4 || string(r.AllowCredentials[0].ID) != "\x01" {
		t.Errorf("ParseRequestOptions = %+v, %v", r, err)
	}
	for _, bad := range []string{`nope`, `{"challenge":"!!"}`, `{"challenge":5}`} {
		var we *Error
		if _, err := ParseRequestOptions([]byte(bad)); !errors.As(err, &we) || we.Name != TypeError {
			t.Errorf("ParseRequestOptions(%s) = %v, want a TypeError", bad, err)
		}
	}
}

func TestResidentKey(t *testing.T) {
	withRK := &client.Info{Options: map[string]bool{"rk": true}}
	without := &client.Info{Options: map[string]bool{}}
	for _, tc := range []struct {
		sel  AuthenticatorSelection
		inf  *client.Info
		want bool
		err  string
	}{
		{AuthenticatorSelection{ResidentKey: "required"}, withRK, true, ""},
		{AuthenticatorSelection{RequireResidentKey: true}, withRK, true, ""},
		{AuthenticatorSelection{ResidentKey: "required"}, without, false, ConstraintError},
		{AuthenticatorSelection{ResidentKey: "preferred"}, withRK, true, ""},
		{AuthenticatorSelection{ResidentKey: "preferred"}, without, false, ""},
		{AuthenticatorSelection{ResidentKey: "discouraged", RequireResidentKey: true}, withRK, false, ""},
		{AuthenticatorSelection{}, withRK, false, ""},
	} {
		got, err := residentKey(tc.sel, tc.inf)
		var we *Error
		if got != tc.want || (tc.err == "") != (err == nil) || (err != nil && (!errors.As(err, &we) || we.Name != tc.err)) {
			t.Errorf("residentKey(%+v) = %v, %v; want %v %s", tc.sel, got, err, tc.want, tc.err)
		}
	}
}

func TestCTAPErrorNames(t *testing.T) {
	for _, tc := range []struct {
		err  error
		name string
	}{
		{&ctap2.StatusError{Status: ctap2.CTAP2ErrCredentialExcluded}, InvalidStateError},
		{&ctap2.StatusError{Status: ctap2.CTAP2ErrUnsupportedAlgorithm}, NotSupportedError},
		{&ctap2.StatusError{Status: ctap2.CTAP2ErrKeyStoreFull}, ConstraintError},
		{&ctap2.StatusError{Status: ctap2.CTAP2ErrNoCredentials}, NotAllowedError},
		{&ctap2.StatusError{Status: ctap2.CTAP2ErrOperationDenied}, NotAllowedError},
		{context.DeadlineExceeded, NotAllowedError},
		{errors.New("broken pipe"), UnknownError},
	} {
		var we *Error
		if err := ctapError(tc.err); !errors.As(err, &we) || we.Name != tc.name || !errors.Is(err, tc.err) {
			t.Errorf("ctapError(%v) = %v, want %s wrapping the cause", tc.err, err, tc.name)
		}
	}
}

// newClient is a Client on a real authenticator with a soft store, called
// in-process.
func newClient(t *testing.T, p ctap2.Presence) *Client {
	t.Helper()
	ks, err := soft.Open(t.TempDir(), soft.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ks.Close() })
	a, err := ctap2.New(ctap2.Config{AAGUID: attestation.DefaultAAGUID, Keystore: ks, Attester: attestation.Self(), Presence: p})
	if err != nil {
		t.Fatal(err)
	}
	return NewClient(client.Direct(a), "https://example.com")
}

var always = ctap2.PresenceFunc(func(context.Context, ctap2.PresenceRequest) error { return nil })

func creation(rk string) *CreationOptions {
	return &CreationOptions{
		RP:                     RPEntity{ID: "example.com", Name: "Example"},
		User:                   UserEntity{ID: []byte("user"), Name: "u", DisplayName: "U"},
		Challenge:              []byte("challenge"),
		AuthenticatorSelection: &AuthenticatorSelection{ResidentKey: rk},
		Attestation:            "direct",
		Extensions:             map[string]json.RawMessage{"credProps": json.RawMessage("true")},
	}
}

func TestCreateAndGet(t *testing.T) {
	c := newClient(t, always)
	ctx := context.Background()
	reg, err := c.Create(ctx, creation("required"))
	if err != nil {
		t.Fatal(err)
	}
	if reg.Type != "public-key" || reg.AuthenticatorAttachment != "cross-platform" || reg.Response.PublicKeyAlgorithm != -7 || len(reg.Response.PublicKey) == 0 {
		t.Errorf("registration %+v", reg)
	}
	if cp, _ := reg.ClientExtensionResults["credProps"].(map[string]bool); !cp["rk"] {
		t.Errorf("credProps = %v, want rk true", reg.ClientExtensionResults)
	}
	var cd clientData
	if err := json.Unmarshal(reg.Response.ClientDataJSON, &cd); err != nil || cd.Type != "webauthn.create" || cd.Origin != "https://example.com" || cd.Challenge != "Y2hhbGxlbmdl" {
		t.Errorf("clientDataJSON %s", reg.Response.ClientDataJSON)
	}
	// Excluding the credential just made: InvalidStateError, as in a browser.
	again := creation("required")
	again.ExcludeCredentials = []CredentialDescriptor{{Type: "public-key", ID: reg.RawID}}
	var we *Error
	if _, err := c.Create(ctx, again); !errors.As(err, &we) || we.Name != InvalidStateError {
		t.Errorf("excluded create = %v, want InvalidStateError", err)
	}
	got, err := c.Get(ctx, &RequestOptions{Challenge: []byte("c2"), RPID: "example.com"})
	if err != nil {
		t.Fatal(err)
	}
	if string(got.RawID) != string(reg.RawID) || string(got.Response.UserHandle) != "user" || len(got.Response.Signature) == 0 {
		t.Errorf("assertion %+v", got)
	}
	if _, err := c.Get(ctx, &RequestOptions{Challenge: []byte("c"), RPID: "other.example"}); !errors.As(err, &we) || we.Name != SecurityError {
		t.Errorf("get for another site = %v, want SecurityError", err)
	}
}

func TestCreateRefusals(t *testing.T) {
	c := newClient(t, ctap2.PresenceFunc(func(context.Context, ctap2.PresenceRequest) error { return ctap2.ErrDenied }))
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		mutate func(*CreationOptions)
		want   string
	}{
		{"user denies", func(*CreationOptions) {}, NotAllowedError},
		{"empty user id", func(o *CreationOptions) { o.User.ID = nil }, TypeError},
		{"user id over 64 bytes", func(o *CreationOptions) { o.User.ID = make([]byte, 65) }, TypeError},
		{"empty challenge", func(o *CreationOptions) { o.Challenge = nil }, TypeError},
		{"platform attachment", func(o *CreationOptions) { o.AuthenticatorSelection.AuthenticatorAttachment = "platform" }, NotAllowedError},
		{"no common algorithm", func(o *CreationOptions) {
			o.PubKeyCredParams = []CredentialParameter{{Type: "public-key", Alg: -65535}}
		}, NotSupportedError},
		{"unknown credential type only", func(o *CreationOptions) { o.PubKeyCredParams = []CredentialParameter{{Type: "password", Alg: -7}} }, NotSupportedError},
		{"uv required without a way to verify", func(o *CreationOptions) { o.AuthenticatorSelection.UserVerification = "required" }, NotAllowedError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := creation("discouraged")
			tc.mutate(o)
			var we *Error
			if _, err := c.Create(ctx, o); !errors.As(err, &we) || we.Name != tc.want {
				t.Fatalf("Create = %v, want %s", err, tc.want)
			}
		})
	}
}
