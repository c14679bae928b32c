package webauthn

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"testing"

	"github.com/fxamacker/cbor/v2"

	"github.com/vauth/vauth/attestation"
	"github.com/vauth/vauth/ctap2"
	"github.com/vauth/vauth/ctap2/client"
	"github.com/vauth/vauth/keystore/soft"
)

// extClient is a Client on a real authenticator whose Config edit may
// change, with its keystore.
func extClient(t *testing.T, edit func(*ctap2.Config)) (*Client, *soft.Store) {
	t.Helper()
	ks, err := soft.Open(t.TempDir(), soft.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ks.Close() })
	cfg := ctap2.Config{AAGUID: attestation.DefaultAAGUID, Keystore: ks, Attester: attestation.Self(), Presence: always}
	if edit != nil {
		edit(&cfg)
	}
	a, err := ctap2.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return NewClient(client.Direct(a), "https://example.com"), ks
}

// withExtensions returns creation options with the extension inputs in
// JSON.
func withExtensions(t *testing.T, o *CreationOptions, ext string) *CreationOptions {
	t.Helper()
	if err := json.Unmarshal([]byte(ext), &o.Extensions); err != nil {
		t.Fatal(err)
	}
	return o
}

// resultsJSON is the JSON of client extension results, as toJSON() gives
// them.
func resultsJSON(t *testing.T, results map[string]any) map[string]json.RawMessage {
	t.Helper()
	b, err := json.Marshal(results)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]json.RawMessage
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// prfResultsOf decodes the prf member of client extension results.
func prfResultsOf(t *testing.T, results map[string]any) (enabled *bool, first, second []byte) {
	t.Helper()
	var prf struct {
		Enabled *bool `json:"enabled"`
		Results *struct {
			First  Base64URL `json:"first"`
			Second Base64URL `json:"second"`
		} `json:"results"`
	}
	if err := json.Unmarshal(resultsJSON(t, results)["prf"], &prf); err != nil {
		t.Fatalf("prf results %v: %v", results, err)
	}
	if prf.Results != nil {
		first, second = prf.Results.First, prf.Results.Second
	}
	return prf.Enabled, first, second
}

// expectedPRF is what the PRF of input must give: HMAC-SHA-256 under the
// credential's CredRandom of SHA-256("WebAuthn PRF" || 0x00 || input).
func expectedPRF(t *testing.T, ks *soft.Store, rawID []byte, uv bool, input string) []byte {
	t.Helper()
	c, err := ks.Lookup(sha256.Sum256([]byte("example.com")), rawID)
	if err != nil {
		t.Fatal(err)
	}
	credRandom, err := ks.CredRandom(c, uv)
	if err != nil {
		t.Fatal(err)
	}
	salt := sha256.Sum256(append([]byte("WebAuthn PRF\x00"), input...))
	m := hmac.New(sha256.New, credRandom)
	m.Write(salt[:])
	return m.Sum(nil)
}

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// TestPRF: prf at registration enables it and, through hmac-secret-mc,
// evaluates at once; at sign-in eval and evalByCredential evaluate through
// hmac-secret; the values are the WebAuthn PRF of the inputs under the
// credential's CredRandom, and another with user verification.
func TestPRF(t *testing.T) {
	c, ks := extClient(t, nil)
	ctx := context.Background()
	reg, err := c.Create(ctx, withExtensions(t, creation("required"), `{"prf":{"eval":{"first":"`+b64("first input")+`"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	enabled, first, second := prfResultsOf(t, reg.ClientExtensionResults)
	if enabled == nil || !*enabled || second != nil {
		t.Fatalf("registration prf results %v", reg.ClientExtensionResults)
	}
	if want := expectedPRF(t, ks, reg.RawID, false, "first input"); !bytes.Equal(first, want) {
		t.Errorf("registration PRF %x, want %x", first, want)
	}
	get := func(ext string, uv string) map[string]any {
		t.Helper()
		opts := &RequestOptions{Challenge: []byte("c"), RPID: "example.com", UserVerification: uv,
			AllowCredentials: []CredentialDescriptor{{Type: "public-key", ID: reg.RawID}}}
		if err := json.Unmarshal([]byte(ext), &opts.Extensions); err != nil {
			t.Fatal(err)
		}
		as, err := c.Get(ctx, opts)
		if err != nil {
			t.Fatal(err)
		}
		return as.ClientExtensionResults
	}
	_, got1, got2 := prfResultsOf(t, get(`{"prf":{"eval":{"first":"`+b64("first input")+`","second":"`+b64("second")+`"}}}`, "discouraged"))
	if !bytes.Equal(got1, first) || !bytes.Equal(got2, expectedPRF(t, ks, reg.RawID, false, "second")) {
		t.Error("sign-in PRF values differ from the registration's, or the second is wrong")
	}
	byCred := `{"prf":{"eval":{"first":"` + b64("ignored") + `"},"evalByCredential":{"` +
		base64.RawURLEncoding.EncodeToString(reg.RawID) + `":{"first":"` + b64("per credential") + `"}}}}`
	if _, got, _ := prfResultsOf(t, get(byCred, "discouraged")); !bytes.Equal(got, expectedPRF(t, ks, reg.RawID, false, "per credential")) {
		t.Error("evalByCredential did not evaluate the credential's own input")
	}

	if err := c.ctap.SetPIN(ctx, 0, "5931"); err != nil {
		t.Fatal(err)
	}
	c.PIN = "5931"
	_, withUV, _ := prfResultsOf(t, get(`{"prf":{"eval":{"first":"`+b64("first input")+`"}}}`, "required"))
	if bytes.Equal(withUV, first) || !bytes.Equal(withUV, expectedPRF(t, ks, reg.RawID, true, "first input")) {
		t.Error("with user verification the PRF is not CredRandomWithUV's")
	}

	var we *Error
	if _, err := c.Create(ctx, withExtensions(t, creation("required"), `{"prf":{"evalByCredential":{"AA":{"first":"AA"}}}}`)); !errors.As(err, &we) || we.Name != NotSupportedError {
		t.Errorf("prf evalByCredential at registration: %v, want NotSupportedError", err)
	}
	if _, err := c.Get(ctx, &RequestOptions{Challenge: []byte("c"), RPID: "example.com", UserVerification: "required",
		Extensions: map[string]json.RawMessage{"prf": json.RawMessage(`{"evalByCredential":{"AA":{"first":"AA"}}}`)}}); !errors.As(err, &we) || we.Name != NotSupportedError {
		t.Errorf("prf evalByCredential without allowCredentials: %v, want NotSupportedError", err)
	}
}

// TestCredBlobAndCredProtect: credBlob is stored and read back with
// getCredBlob; credentialProtectionPolicy userVerificationRequired hides
// the credential from a sign-in without user verification.
func TestCredBlobAndCredProtect(t *testing.T) {
	c, _ := extClient(t, nil)
	ctx := context.Background()
	reg, err := c.Create(ctx, withExtensions(t, creation("required"),
		`{"credBlob":"`+b64("a small blob")+`","credentialProtectionPolicy":"userVerificationRequired","enforceCredentialProtectionPolicy":true}`))
	if err != nil {
		t.Fatal(err)
	}
	if got := string(resultsJSON(t, reg.ClientExtensionResults)["credBlob"]); got != "true" {
		t.Errorf("credBlob result %s, want true", got)
	}
	var we *Error
	if _, err := c.Get(ctx, &RequestOptions{Challenge: []byte("c"), RPID: "example.com"}); !errors.As(err, &we) || we.Name != NotAllowedError {
		t.Errorf("sign-in without UV: %v, want NotAllowedError (the credential is invisible)", err)
	}
	if err := c.ctap.SetPIN(ctx, 0, "5931"); err != nil {
		t.Fatal(err)
	}
	c.PIN = "5931"
	as, err := c.Get(ctx, &RequestOptions{Challenge: []byte("c"), RPID: "example.com", UserVerification: "required",
		Extensions: map[string]json.RawMessage{"getCredBlob": json.RawMessage("true")}})
	if err != nil {
		t.Fatal(err)
	}
	var blob Base64URL
	if err := json.Unmarshal(resultsJSON(t, as.ClientExtensionResults)["getCredBlob"], &blob); err != nil || string(blob) != "a small blob" {
		t.Errorf("getCredBlob %q (%v)", blob, err)
	}
}

// noExtensions is an authenticator whose getInfo lists no extensions: one
// that predates them.
type noExtensions struct{ client.Authenticator }

func (a noExtensions) CBOR(ctx context.Context, req []byte, ka func(byte)) ([]byte, error) {
	resp, err := a.Authenticator.CBOR(ctx, req, ka)
	if err != nil || len(req) == 0 || req[0] != 0x04 || len(resp) < 2 || resp[0] != 0 {
		return resp, err
	}
	var info map[int]cbor.RawMessage
	if err := cbor.Unmarshal(resp[1:], &info); err != nil {
		return nil, err
	}
	delete(info, 2)
	b, err := encMode.Marshal(info)
	return append([]byte{0}, b...), err
}

// TestEnforceCredProtect: without credProtect on the authenticator, a
// protection policy is dropped unless enforceCredentialProtectionPolicy
// insists; then the registration fails, as in a browser.
func TestEnforceCredProtect(t *testing.T) {
	ks, err := soft.Open(t.TempDir(), soft.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer ks.Close()
	a, err := ctap2.New(ctap2.Config{Keystore: ks, Presence: always})
	if err != nil {
		t.Fatal(err)
	}
	c := NewClient(noExtensions{client.Direct(a)}, "https://example.com")
	ctx := context.Background()
	if _, err := c.Create(ctx, withExtensions(t, creation("discouraged"), `{"credentialProtectionPolicy":"userVerificationOptionalWithCredentialIDList"}`)); err != nil {
		t.Errorf("an unenforced policy: %v", err)
	}
	var we *Error
	if _, err := c.Create(ctx, withExtensions(t, creation("discouraged"), `{"credentialProtectionPolicy":"userVerificationRequired","enforceCredentialProtectionPolicy":true}`)); !errors.As(err, &we) || we.Name != NotAllowedError {
		t.Errorf("an enforced policy: %v, want NotAllowedError", err)
	}
}

// TestLargeBlob: a discoverable credential registered with largeBlob
// support writes and reads its blob at sign-in, also once a PIN protects
// the authenticator (the client then gets a pinUvAuthToken with lbw); the
// inputs browsers refuse are NotSupportedError.
func TestLargeBlob(t *testing.T) {
	c, _ := extClient(t, nil)
	ctx := context.Background()
	reg, err := c.Create(ctx, withExtensions(t, creation("required"), `{"largeBlob":{"support":"required"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if got := string(resultsJSON(t, reg.ClientExtensionResults)["largeBlob"]); got != `{"supported":true}` {
		t.Errorf("registration largeBlob %s", got)
	}
	get := func(ext, uv string) (map[string]json.RawMessage, error) {
		opts := &RequestOptions{Challenge: []byte("c"), RPID: "example.com", UserVerification: uv,
			AllowCredentials: []CredentialDescriptor{{Type: "public-key", ID: reg.RawID}},
			Extensions:       map[string]json.RawMessage{"largeBlob": json.RawMessage(ext)}}
		as, err := c.Get(ctx, opts)
		if err != nil {
			return nil, err
		}
		return resultsJSON(t, as.ClientExtensionResults), nil
	}
	for _, step := range []struct{ ext, want string }{
		{`{"read":true}`, `{}`},
		{`{"write":"` + b64("first blob") + `"}`, `{"written":true}`},
		{`{"read":true}`, `{"blob":"` + b64("first blob") + `"}`},
	} {
		got, err := get(step.ext, "discouraged")
		if err != nil || string(got["largeBlob"]) != step.want {
			t.Errorf("largeBlob %s: %s (%v), want %s", step.ext, got["largeBlob"], err, step.want)
		}
	}
	if err := c.ctap.SetPIN(ctx, 0, "5931"); err != nil {
		t.Fatal(err)
	}
	c.PIN = "5931"
	if got, err := get(`{"write":"`+b64("second blob")+`"}`, "discouraged"); err != nil || string(got["largeBlob"]) != `{"written":true}` {
		t.Errorf("write with a PIN set: %s (%v)", got["largeBlob"], err)
	}
	if got, err := get(`{"read":true}`, "required"); err != nil || string(got["largeBlob"]) != `{"blob":"`+b64("second blob")+`"}` {
		t.Errorf("read with a PIN set: %s (%v)", got["largeBlob"], err)
	}

	var we *Error
	for _, ext := range []string{`{"support":"preferred"}`, `{"read":true,"write":"AA"}`} {
		if _, err := get(ext, "required"); !errors.As(err, &we) || we.Name != NotSupportedError {
			t.Errorf("get with largeBlob %s: %v, want NotSupportedError", ext, err)
		}
	}
	if _, err := c.Create(ctx, withExtensions(t, creation("required"), `{"largeBlob":{"read":true}}`)); !errors.As(err, &we) || we.Name != NotSupportedError {
		t.Errorf("create with largeBlob read: %v, want NotSupportedError", err)
	}
}

// TestEnterpriseConveyance: attestation "enterprise" asks an enterprise
// attestation capable authenticator for one (platform-managed for the RPs
// of the client's policy), and the statement reaches the relying party;
// "none" strips it.
func TestEnterpriseConveyance(t *testing.T) {
	c, _ := extClient(t, func(cfg *ctap2.Config) {
		ca, err := attestation.LoadOrCreateCA(cfg.Keystore)
		if err != nil {
			t.Fatal(err)
		}
		cfg.EnterpriseAttestation = true
		cfg.Attester = attestation.Basic(ca, cfg.AAGUID, cfg.Keystore)
		cfg.EnterpriseAttester = attestation.Enterprise(ca, cfg.AAGUID, cfg.Keystore)
	})
	ctx := context.Background()
	if err := c.ctap.EnableEnterpriseAttestation(ctx, nil); err != nil {
		t.Fatal(err)
	}
	commonName := func(o *CreationOptions) string {
		t.Helper()
		reg, err := c.Create(ctx, o)
		if err != nil {
			t.Fatal(err)
		}
		var ao struct {
			Fmt     string `cbor:"fmt"`
			AttStmt struct {
				X5C [][]byte `cbor:"x5c"`
			} `cbor:"attStmt"`
		}
		if err := cbor.Unmarshal(reg.Response.AttestationObject, &ao); err != nil {
			t.Fatal(err)
		}
		if len(ao.AttStmt.X5C) == 0 {
			return ao.Fmt
		}
		cert, err := x509.ParseCertificate(ao.AttStmt.X5C[0])
		if err != nil {
			t.Fatal(err)
		}
		return cert.Subject.CommonName
	}
	for _, tc := range []struct {
		conveyance string
		policy     []string
		want       string
	}{
		{"enterprise", []string{"example.com"}, "vauth Enterprise Attestation"},
		{"enterprise", nil, "vauth Authenticator Attestation"}, // vendor-facilitated, not on the authenticator's list
		{"direct", []string{"example.com"}, "vauth Authenticator Attestation"},
		{"none", []string{"example.com"}, "none"},
	} {
		c.EnterpriseRPIDs = tc.policy
		o := creation("discouraged")
		o.Attestation = tc.conveyance
		if got := commonName(o); got != tc.want {
			t.Errorf("attestation %q with policy %v: %q, want %q", tc.conveyance, tc.policy, got, tc.want)
		}
	}
}
