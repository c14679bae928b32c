package decode

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// specVectors are the W3C WebAuthn Level 3 test vectors (§16), as
// testdata/webauthn-l3-test-vectors.json records them with their source.
type specVectors struct {
	Source        string `json:"source"`
	Registrations []struct {
		Name, Section, Format, CredentialID, AttestationObject, ClientDataJSON string
	} `json:"registrations"`
	Assertions []struct {
		Name, Section, CredentialID, AuthenticatorData, ClientDataJSON, Signature, CredentialPublicKey, UserHandle string
	} `json:"assertions"`
}

func loadVectors(t testing.TB) specVectors {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "webauthn-l3-test-vectors.json"))
	if err != nil {
		t.Fatal(err)
	}
	var v specVectors
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	if len(v.Registrations) == 0 || len(v.Assertions) == 0 || v.Source == "" {
		t.Fatal("test vectors missing")
	}
	return v
}

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func b64u(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// credentialJSONOf builds a PublicKeyCredential as toJSON() gives it.
func credentialJSONOf(t testing.TB, id []byte, response map[string]string) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]any{"id": b64u(id), "rawId": b64u(id), "type": "public-key", "response": response})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// specUntrusted are the vectors whose attestation a relying party without
// the specification's test roots rejects, and why: their certificates are
// issued by the specification's own synthetic CA, not by Google's or
// Apple's roots, and the TPM vector names no registered TPM manufacturer.
var specUntrusted = map[string]string{
	"TPMES256":            "Invalid TPM manufacturer",
	"AndroidKeyES256":     "x5c cert chain",
	"AppleAnonymousES256": "x5c cert chain",
}

func TestSpecRegistrations(t *testing.T) {
	for _, v := range loadVectors(t).Registrations {
		t.Run(v.Name, func(t *testing.T) {
			id := unhex(t, v.CredentialID)
			input := credentialJSONOf(t, id, map[string]string{
				"attestationObject": b64u(unhex(t, v.AttestationObject)),
				"clientDataJSON":    b64u(unhex(t, v.ClientDataJSON)),
			})
			r, err := Decode(input, Options{})
			if err != nil {
				t.Fatalf("%s: %v", v.Section, err)
			}
			if r.Kind != KindRegistration || r.Attestation.Format != v.Format {
				t.Errorf("kind %s, format %s; want registration, %s", r.Kind, r.Attestation.Format, v.Format)
			}
			want, untrusted := specUntrusted[v.Name]
			switch res := r.Attestation.Result; {
			case untrusted && (!res.Failed() || !strings.Contains(res.Detail, want) || len(r.Failures()) != 1):
				t.Errorf("%s: attestation %+v, want a failure mentioning %q", v.Section, res, want)
			case !untrusted && !res.OK:
				t.Errorf("%s: attestation does not verify: %s", v.Section, res.Detail)
			}
			ad := r.AuthenticatorData
			if ad.RPID != "example.org" || ad.Attested == nil || !bytes.Equal(ad.Attested.CredentialID, id) {
				t.Errorf("rpId %q, attested %+v; want example.org and credential ID %x", ad.RPID, ad.Attested, id)
			}
			if len(r.Problems) != 0 {
				t.Errorf("problems %q", r.Problems)
			}
			// Each encoding of the bare attestation object decodes to the same.
			raw := unhex(t, v.AttestationObject)
			for enc, in := range map[string][]byte{
				EncodingHex: []byte(v.AttestationObject), EncodingBase64URL: []byte(b64u(raw)),
				EncodingBase64: []byte(base64.StdEncoding.EncodeToString(raw)), EncodingRaw: raw,
			} {
				bare, err := Decode(in, Options{ClientDataJSON: unhex(t, v.ClientDataJSON)})
				if err != nil || bare.Kind != KindAttestationObject || bare.Encoding != enc || bare.Attestation.Result != r.Attestation.Result {
					t.Errorf("bare attestationObject in %s: %+v, %v", enc, bare, err)
				}
			}
		})
	}
}

func TestSpecAssertions(t *testing.T) {
	for _, v := range loadVectors(t).Assertions {
		t.Run(v.Name, func(t *testing.T) {
			key, err := ParseCOSEKey(unhex(t, v.CredentialPublicKey))
			if err != nil {
				t.Fatal(err)
			}
			sig := unhex(t, v.Signature)
			resp := map[string]string{
				"authenticatorData": b64u(unhex(t, v.AuthenticatorData)),
				"clientDataJSON":    b64u(unhex(t, v.ClientDataJSON)),
				"signature":         b64u(sig),
			}
			r, err := Decode(credentialJSONOf(t, unhex(t, v.CredentialID), resp), Options{PublicKey: key})
			if err != nil {
				t.Fatalf("%s: %v", v.Section, err)
			}
			if r.Kind != KindAssertion || !r.Signature.Result.OK {
				t.Errorf("%s: kind %s, signature %+v", v.Section, r.Kind, r.Signature.Result)
			}
			// Without the key the signature is not checked; with a flipped
			// bit it fails.
			if r, _ := Decode(credentialJSONOf(t, unhex(t, v.CredentialID), resp), Options{}); r.Signature.Result.Checked {
				t.Errorf("signature checked without a key: %+v", r.Signature.Result)
			}
			bad := bytes.Clone(sig)
			bad[len(bad)-1] ^= 1
			resp["signature"] = b64u(bad)
			r, err = Decode(credentialJSONOf(t, unhex(t, v.CredentialID), resp), Options{PublicKey: key})
			if err != nil || !r.Signature.Result.Failed() || len(r.Failures()) != 1 {
				t.Errorf("tampered signature: %+v, %v", r, err)
			}
		})
	}
}

// TestKinds decodes each kind of bare input and the forms a key comes in.
func TestKinds(t *testing.T) {
	v := loadVectors(t)
	reg := v.Registrations[0]
	full, err := Decode([]byte(reg.AttestationObject), Options{})
	if err != nil {
		t.Fatal(err)
	}
	key := full.CredentialKey()
	authData := full.AuthenticatorData.Raw
	for _, tc := range []struct {
		name  string
		input []byte
		kind  string
	}{
		{"clientDataJSON", unhex(t, reg.ClientDataJSON), KindClientDataJSON},
		{"clientDataJSON in base64url", []byte(b64u(unhex(t, reg.ClientDataJSON))), KindClientDataJSON},
		{"authenticatorData", []byte(hex.EncodeToString(authData)), KindAuthenticatorData},
		{"COSE key", key.COSE, KindCOSEKey},
		{"PEM", []byte(key.PEM), KindPublicKey},
		{"JWK", []byte(key.JWKJSON()), KindPublicKey},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Decode(tc.input, Options{})
			if err != nil || r.Kind != tc.kind {
				t.Fatalf("Decode: %+v, %v; want kind %s", r, err, tc.kind)
			}
			if k := r.CredentialKey(); tc.kind != KindClientDataJSON && (k == nil || k.PEM != key.PEM) {
				t.Errorf("credential key %+v, want %s", k, key.PEM)
			}
		})
	}
}

func TestMalformed(t *testing.T) {
	v := loadVectors(t)
	ao := unhex(t, v.Registrations[1].AttestationObject)
	for _, tc := range []struct {
		name  string
		input string
		want  string
	}{
		{"empty", "  \n", "empty input"},
		{"too short", "0011", "neither"},
		{"truncated attestation object", hex.EncodeToString(ao[:len(ao)-3]), "attestationObject"},
		{"authenticator data with trailing bytes", hex.EncodeToString(append(make([]byte, 37), 1)), "left over"},
		{"AT flag without data", hex.EncodeToString(append(make([]byte, 32), 0x41, 0, 0, 0, 0)), "truncated"},
		{"JSON of another kind", `{"hello": "world"}`, "neither"},
		{"response without client data", `{"id":"AA","response":{"signature":"AA"}}`, "clientDataJSON"},
		{"PEM certificate", "-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n", "PUBLIC KEY"},
		{"JWK on an unknown curve", `{"kty":"EC","crv":"P-192","x":"AA","y":"AA"}`, "curve"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Decode([]byte(tc.input), Options{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Decode = %+v, %v; want an error mentioning %q", r, err, tc.want)
			}
		})
	}
	if _, err := Decode(make([]byte, MaxInput+1), Options{}); err == nil {
		t.Error("input over MaxInput accepted")
	}
}

// TestInconsistencies checks that members of a registration response that
// contradict the attestation object are reported.
func TestInconsistencies(t *testing.T) {
	v := loadVectors(t).Registrations[0]
	input, err := json.Marshal(map[string]any{
		"id": "not-the-raw-id", "rawId": b64u([]byte("other")), "type": "public-key",
		"response": map[string]any{
			"attestationObject":  b64u(unhex(t, v.AttestationObject)),
			"clientDataJSON":     b64u(unhex(t, v.ClientDataJSON)),
			"publicKeyAlgorithm": -8,
			"authenticatorData":  b64u([]byte("something else")),
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	r, err := Decode(input, Options{})
	if err != nil {
		t.Fatal(err)
	}
	all := strings.Join(r.Problems, "\n")
	for _, want := range []string{"id is not", "publicKeyAlgorithm", "authenticatorData", "rawId is not the attested"} {
		if !strings.Contains(all, want) {
			t.Errorf("problems %q lack %q", r.Problems, want)
		}
	}
}
