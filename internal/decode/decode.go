// Package decode reads the WebAuthn objects a relying party receives — a
// whole PublicKeyCredential as browsers and toJSON() give it, or a bare
// attestationObject, authenticatorData, clientDataJSON or COSE key, in
// JSON, base64url, base64, hex or raw bytes — and says what they hold:
// flags, counter, AAGUID, the credential public key, extensions, the
// attestation statement and its certificate chain, and whether the
// attestation and the assertion signature verify. `vauth decode` prints
// its Report; tests use it to check what vauth produces.
//
// Nothing in the input is trusted: Decode returns an error for anything
// malformed, never panics, and allocates in proportion to the input.
package decode

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"unicode/utf8"

	"github.com/fxamacker/cbor/v2"
)

// MaxInput is the largest input Decode reads.
const MaxInput = 1 << 20

// Kinds of input.
const (
	KindRegistration      = "registration"      // PublicKeyCredential from create()
	KindAssertion         = "assertion"         // PublicKeyCredential from get()
	KindAttestationObject = "attestationObject" // authenticatorMakeCredential's result as the RP gets it
	KindAuthenticatorData = "authenticatorData"
	KindClientDataJSON    = "clientDataJSON"
	KindCOSEKey           = "COSE key"
	KindPublicKey         = "public key" // PEM SubjectPublicKeyInfo or JWK
)

// Encodings of the input.
const (
	EncodingJSON      = "JSON"
	EncodingBase64URL = "base64url"
	EncodingBase64    = "base64"
	EncodingHex       = "hex"
	EncodingRaw       = "raw"
	EncodingPEM       = "PEM"
)

var (
	decMode, _ = cbor.DecOptions{
		MaxNestedLevels:  16,
		MaxArrayElements: 256,
		MaxMapPairs:      256,
		IndefLength:      cbor.IndefLengthForbidden,
		DupMapKey:        cbor.DupMapKeyEnforcedAPF,
		DefaultMapType:   reflect.TypeOf(map[any]any{}),
	}.DecMode()
	encMode, _ = cbor.CTAP2EncOptions().EncMode()
)

// Bytes is binary data; JSON carries it as unpadded base64url, as WebAuthn
// does.
type Bytes []byte

// MarshalJSON encodes b as unpadded base64url.
func (b Bytes) MarshalJSON() ([]byte, error) {
	return json.Marshal(base64.RawURLEncoding.EncodeToString(b))
}

// UnmarshalJSON decodes base64url, padded or not.
func (b *Bytes) UnmarshalJSON(data []byte) error {
	var s string
	if err := json.Unmarshal(data, &s); err != nil {
		return err
	}
	v, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
	*b = v
	return err
}

// Options supply what an input needs to be verified but does not hold.
type Options struct {
	// PublicKey is the credential public key the relying party registered,
	// to verify an assertion's signature.
	PublicKey *Key
	// ClientDataJSON is the client data that an attestationObject or an
	// assertion's authenticatorData was signed with, when the input does
	// not hold it.
	ClientDataJSON []byte
}

// Report is what Decode found. Absent parts are nil.
type Report struct {
	Kind     string `json:"kind"`
	Encoding string `json:"encoding"`
	// Credential is the PublicKeyCredential's own members.
	Credential        *Credential        `json:"credential,omitempty"`
	ClientData        *ClientData        `json:"clientData,omitempty"`
	AuthenticatorData *AuthenticatorData `json:"authenticatorData,omitempty"`
	Attestation       *Attestation       `json:"attestation,omitempty"`
	// Signature is an assertion's signature.
	Signature *Signature `json:"signature,omitempty"`
	// Key is a bare COSE key, PEM or JWK input.
	Key *Key `json:"key,omitempty"`
	// Problems are inconsistencies found on the way (an id that is not its
	// rawId, a public key that differs from the authenticator data's).
	Problems []string `json:"problems,omitempty"`
}

// Credential is a PublicKeyCredential's members besides its response's
// data.
type Credential struct {
	ID                      string         `json:"id"`
	RawID                   Bytes          `json:"rawId"`
	Type                    string         `json:"type"`
	AuthenticatorAttachment string         `json:"authenticatorAttachment,omitempty"`
	Transports              []string       `json:"transports,omitempty"`
	ClientExtensionResults  map[string]any `json:"clientExtensionResults,omitempty"`
	UserHandle              Bytes          `json:"userHandle,omitempty"`
}

// ClientData is the decoded clientDataJSON.
type ClientData struct {
	Type        string `json:"type"`
	Challenge   string `json:"challenge"`
	Origin      string `json:"origin"`
	CrossOrigin bool   `json:"crossOrigin"`
	TopOrigin   string `json:"topOrigin,omitempty"`
	// Hash is SHA-256 of the JSON: the clientDataHash the authenticator
	// signed.
	Hash Bytes `json:"hash"`
	raw  []byte
}

// JSON returns the clientDataJSON as it was received.
func (cd *ClientData) JSON() []byte { return cd.raw }

// Signature is an assertion signature and whether it verifies.
type Signature struct {
	Value  Bytes  `json:"value"`
	Result Result `json:"verified"`
}

// Result says whether a signature or statement verifies: Checked is false
// when it could not be checked, and Detail says why, or what failed.
type Result struct {
	Checked bool   `json:"checked"`
	OK      bool   `json:"ok"`
	Detail  string `json:"detail,omitempty"`
}

// Failed reports whether r is a check that did not pass.
func (r Result) Failed() bool { return r.Checked && !r.OK }

// Failures lists the checks in r that did not pass, so that a caller can
// exit non-zero.
func (r *Report) Failures() []string {
	var out []string
	if a := r.Attestation; a != nil && a.Result.Failed() {
		out = append(out, "the attestation statement does not verify: "+a.Result.Detail)
	}
	if s := r.Signature; s != nil && s.Result.Failed() {
		out = append(out, "the assertion signature does not verify: "+s.Result.Detail)
	}
	return out
}

// CredentialKey returns the credential public key the input holds: the
// attested credential data's, a COSE key's, or a PEM or JWK key; nil when
// there is none. `vauth decode --public-key` uses it.
func (r *Report) CredentialKey() *Key {
	if r.Key != nil {
		return r.Key
	}
	if ad := r.AuthenticatorData; ad != nil && ad.Attested != nil {
		return ad.Attested.PublicKey
	}
	return nil
}

// Decode reads one WebAuthn object in any of the encodings and reports
// what it holds, verifying what opts makes verifiable.
func Decode(input []byte, opts Options) (*Report, error) {
	if len(input) > MaxInput {
		return nil, fmt.Errorf("input of %d bytes; at most %d", len(input), MaxInput)
	}
	text := bytes.TrimSpace(input)
	switch {
	case len(text) == 0:
		return nil, errors.New("empty input")
	case text[0] == '{':
		return decodeJSON(text, EncodingJSON, opts)
	case bytes.HasPrefix(text, []byte("-----BEGIN")):
		return decodePEM(text)
	}
	data, encoding := unwrapText(text, input)
	if len(data) > 0 && data[0] == '{' && json.Valid(data) {
		return decodeJSON(data, encoding, opts)
	}
	return decodeBinary(data, encoding, opts)
}

// unwrapText decodes a text encoding of binary input: hex first (a hex
// string is also valid base64), then base64url, then base64; anything else
// is the raw bytes.
func unwrapText(text, raw []byte) ([]byte, string) {
	s := string(text)
	if len(s)%2 == 0 && strings.Trim(strings.ToLower(s), "0123456789abcdef") == "" {
		if b, err := hex.DecodeString(s); err == nil {
			return b, EncodingHex
		}
	}
	if b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "=")); err == nil {
		return b, EncodingBase64URL
	}
	if b, err := base64.StdEncoding.DecodeString(s); err == nil {
		return b, EncodingBase64
	}
	if b, err := base64.RawStdEncoding.DecodeString(s); err == nil {
		return b, EncodingBase64
	}
	return raw, EncodingRaw
}

// decodeBytesField decodes a JSON string member that holds binary data:
// base64url as toJSON() gives it, or base64 as some libraries send.
func decodeBytesField(s string) ([]byte, error) {
	if b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "=")); err == nil {
		return b, nil
	}
	if b, err := base64.StdEncoding.DecodeString(s); err == nil {
		return b, nil
	}
	return base64.RawStdEncoding.DecodeString(s)
}

// decodeBinary classifies binary input: a CBOR map with fmt and authData is
// an attestationObject, one with a kty is a COSE key, and anything else of
// 37 bytes or more is authenticator data.
func decodeBinary(data []byte, encoding string, opts Options) (*Report, error) {
	var cborErr error
	if len(data) > 0 && data[0]>>5 == 5 { // CBOR major type 5: a map
		var probe map[any]any
		if _, cborErr = decMode.UnmarshalFirst(data, &probe); cborErr == nil {
			switch {
			case probe["fmt"] != nil || probe["authData"] != nil:
				r := &Report{Kind: KindAttestationObject, Encoding: encoding}
				return r, r.attestationObject(data, opts.ClientDataJSON)
			case probe[uint64(coseKty)] != nil:
				k, err := ParseCOSEKey(data)
				if err != nil {
					return nil, err
				}
				return &Report{Kind: KindCOSEKey, Encoding: encoding, Key: k}, nil
			}
		}
	}
	if len(data) < authDataMinLen {
		return nil, fmt.Errorf("%d bytes (%s) that are neither an attestationObject, a COSE key nor authenticator data", len(data), encoding)
	}
	ad, err := parseAuthenticatorData(data)
	if err != nil {
		if cborErr != nil {
			// Authenticator data that starts like a CBOR map is rare: the
			// CBOR error is the likelier story.
			return nil, fmt.Errorf("%d bytes (%s): not a CBOR attestationObject or COSE key (%v), nor authenticator data (%v)", len(data), encoding, cborErr, err)
		}
		return nil, err
	}
	r := &Report{Kind: KindAuthenticatorData, Encoding: encoding, AuthenticatorData: ad}
	if opts.ClientDataJSON != nil {
		cd, err := parseClientData(opts.ClientDataJSON)
		if err != nil {
			return nil, err
		}
		r.ClientData = cd
		ad.matchRPID(cd.Origin)
	}
	return r, nil
}

// decodePEM reads a PEM public key.
func decodePEM(text []byte) (*Report, error) {
	block, _ := pem.Decode(text)
	if block == nil || block.Type != "PUBLIC KEY" {
		return nil, errors.New("PEM input: want a PUBLIC KEY block")
	}
	k, err := parsePKIX(block.Bytes)
	if err != nil {
		return nil, err
	}
	return &Report{Kind: KindPublicKey, Encoding: EncodingPEM, Key: k}, nil
}

// decodeJSON reads a PublicKeyCredential (or its bare response), a
// clientDataJSON, or a JWK.
func decodeJSON(data []byte, encoding string, opts Options) (*Report, error) {
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(data, &probe); err != nil {
		return nil, fmt.Errorf("JSON input: %w", err)
	}
	switch {
	case probe["kty"] != nil:
		k, err := parseJWK(data)
		if err != nil {
			return nil, err
		}
		return &Report{Kind: KindPublicKey, Encoding: encoding, Key: k}, nil
	case probe["challenge"] != nil && probe["origin"] != nil:
		cd, err := parseClientData(data)
		if err != nil {
			return nil, err
		}
		return &Report{Kind: KindClientDataJSON, Encoding: encoding, ClientData: cd}, nil
	case probe["response"] != nil:
		return decodeCredential(data, encoding, opts)
	case probe["clientDataJSON"] != nil:
		// A bare AuthenticatorAttestationResponse or
		// AuthenticatorAssertionResponse.
		return decodeResponse(nil, data, encoding, opts)
	}
	return nil, errors.New("JSON input that is neither a PublicKeyCredential, a response, a clientDataJSON nor a JWK")
}

// credentialJSON is PublicKeyCredential as toJSON() gives it (WebAuthn
// §5.1.8, RegistrationResponseJSON and AuthenticationResponseJSON).
type credentialJSON struct {
	ID                      string          `json:"id"`
	RawID                   string          `json:"rawId"`
	Type                    string          `json:"type"`
	AuthenticatorAttachment string          `json:"authenticatorAttachment"`
	ClientExtensionResults  map[string]any  `json:"clientExtensionResults"`
	Response                json.RawMessage `json:"response"`
}

// responseJSON holds the members of both response types.
type responseJSON struct {
	ClientDataJSON     string   `json:"clientDataJSON"`
	AttestationObject  string   `json:"attestationObject"`
	AuthenticatorData  string   `json:"authenticatorData"`
	Signature          string   `json:"signature"`
	UserHandle         *string  `json:"userHandle"`
	Transports         []string `json:"transports"`
	PublicKey          string   `json:"publicKey"`
	PublicKeyAlgorithm *int     `json:"publicKeyAlgorithm"`
}

func decodeCredential(data []byte, encoding string, opts Options) (*Report, error) {
	var c credentialJSON
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, fmt.Errorf("PublicKeyCredential: %w", err)
	}
	cred := &Credential{ID: c.ID, Type: c.Type, AuthenticatorAttachment: c.AuthenticatorAttachment, ClientExtensionResults: c.ClientExtensionResults}
	var problems []string
	if c.RawID != "" {
		raw, err := decodeBytesField(c.RawID)
		if err != nil {
			return nil, fmt.Errorf("PublicKeyCredential rawId: %w", err)
		}
		cred.RawID = raw
		if c.ID != base64.RawURLEncoding.EncodeToString(raw) {
			problems = append(problems, "id is not the base64url encoding of rawId")
		}
	} else if raw, err := base64.RawURLEncoding.DecodeString(c.ID); err == nil {
		cred.RawID = raw
	}
	if c.Type != "" && c.Type != "public-key" {
		problems = append(problems, fmt.Sprintf("type %q, want \"public-key\"", c.Type))
	}
	r, err := decodeResponse(cred, c.Response, encoding, opts)
	if err != nil {
		return nil, err
	}
	r.Problems = append(problems, r.Problems...)
	return r, nil
}

// decodeResponse decodes an AuthenticatorAttestationResponse or an
// AuthenticatorAssertionResponse; cred, when not nil, is the
// PublicKeyCredential around it.
func decodeResponse(cred *Credential, data []byte, encoding string, opts Options) (*Report, error) {
	var resp responseJSON
	if err := json.Unmarshal(data, &resp); err != nil {
		return nil, fmt.Errorf("response: %w", err)
	}
	field := func(name, value string) ([]byte, error) {
		b, err := decodeBytesField(value)
		if err != nil {
			return nil, fmt.Errorf("response %s: %w", name, err)
		}
		return b, nil
	}
	if resp.ClientDataJSON == "" {
		return nil, errors.New("response without clientDataJSON")
	}
	cdj, err := field("clientDataJSON", resp.ClientDataJSON)
	if err != nil {
		return nil, err
	}
	cd, err := parseClientData(cdj)
	if err != nil {
		return nil, err
	}
	if cred == nil {
		cred = &Credential{}
	}
	r := &Report{Encoding: encoding, Credential: cred, ClientData: cd}
	switch {
	case resp.AttestationObject != "":
		r.Kind = KindRegistration
		cred.Transports = resp.Transports
		ao, err := field("attestationObject", resp.AttestationObject)
		if err != nil {
			return nil, err
		}
		if err := r.attestationObject(ao, cdj); err != nil {
			return nil, err
		}
		r.checkRegistration(resp, field)
	case resp.Signature != "":
		r.Kind = KindAssertion
		if resp.AuthenticatorData == "" {
			return nil, errors.New("assertion response without authenticatorData")
		}
		raw, err := field("authenticatorData", resp.AuthenticatorData)
		if err != nil {
			return nil, err
		}
		if r.AuthenticatorData, err = parseAuthenticatorData(raw); err != nil {
			return nil, err
		}
		sig, err := field("signature", resp.Signature)
		if err != nil {
			return nil, err
		}
		if resp.UserHandle != nil && *resp.UserHandle != "" {
			if cred.UserHandle, err = field("userHandle", *resp.UserHandle); err != nil {
				return nil, err
			}
		}
		r.Signature = &Signature{Value: sig, Result: verifyAssertion(opts.PublicKey, raw, cd.Hash, sig)}
		if cd.Type != "webauthn.get" {
			r.Problems = append(r.Problems, fmt.Sprintf("clientData type %q in an assertion, want \"webauthn.get\"", cd.Type))
		}
	default:
		return nil, errors.New("response has neither attestationObject nor signature")
	}
	if r.AuthenticatorData != nil {
		r.AuthenticatorData.matchRPID(cd.Origin)
	}
	return r, nil
}

// checkRegistration compares the registration response's convenience
// members (authenticatorData, publicKey, publicKeyAlgorithm) with the
// attestation object, which is what they summarise.
func (r *Report) checkRegistration(resp responseJSON, field func(name, value string) ([]byte, error)) {
	if r.ClientData.Type != "webauthn.create" {
		r.Problems = append(r.Problems, fmt.Sprintf("clientData type %q in a registration, want \"webauthn.create\"", r.ClientData.Type))
	}
	ad := r.AuthenticatorData
	if resp.AuthenticatorData != "" {
		if b, err := field("authenticatorData", resp.AuthenticatorData); err != nil || !bytes.Equal(b, ad.Raw) {
			r.Problems = append(r.Problems, "response.authenticatorData is not the attestation object's authData")
		}
	}
	if ad.Attested == nil {
		return
	}
	key := ad.Attested.PublicKey
	if resp.PublicKeyAlgorithm != nil && *resp.PublicKeyAlgorithm != key.Algorithm {
		r.Problems = append(r.Problems, fmt.Sprintf("response.publicKeyAlgorithm %d, but the credential public key's alg is %d", *resp.PublicKeyAlgorithm, key.Algorithm))
	}
	if resp.PublicKey != "" {
		der, err := field("publicKey", resp.PublicKey)
		if err == nil {
			var k *Key
			if k, err = parsePKIX(der); err == nil && k.PEM != key.PEM {
				err = errors.New("it differs from the credential public key")
			}
		}
		if err != nil {
			r.Problems = append(r.Problems, "response.publicKey: "+err.Error())
		}
	}
	if r.Credential != nil && len(r.Credential.RawID) > 0 && !bytes.Equal(r.Credential.RawID, ad.Attested.CredentialID) {
		r.Problems = append(r.Problems, "rawId is not the attested credential ID")
	}
}

// parseClientData decodes clientDataJSON (WebAuthn §5.8.1).
func parseClientData(data []byte) (*ClientData, error) {
	if !utf8.Valid(data) {
		return nil, errors.New("clientDataJSON is not UTF-8")
	}
	var cd ClientData
	if err := json.Unmarshal(data, &cd); err != nil {
		return nil, fmt.Errorf("clientDataJSON: %w", err)
	}
	if cd.Type == "" || cd.Challenge == "" || cd.Origin == "" {
		return nil, errors.New("clientDataJSON lacks type, challenge or origin")
	}
	sum := sha256.Sum256(data)
	cd.Hash, cd.raw = sum[:], append([]byte(nil), data...)
	return &cd, nil
}

// jsonable turns decoded CBOR (map[any]any, []byte, ...) into values
// encoding/json and the text output can show; byte strings become Bytes.
func jsonable(v any) any {
	switch x := v.(type) {
	case map[any]any:
		m := make(map[string]any, len(x))
		for k, val := range x {
			m[fmt.Sprint(k)] = jsonable(val)
		}
		return m
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, val := range x {
			m[k] = jsonable(val)
		}
		return m
	case []any:
		out := make([]any, len(x))
		for i, val := range x {
			out[i] = jsonable(val)
		}
		return out
	case []byte:
		return Bytes(x)
	case cbor.Tag:
		return map[string]any{"tag": x.Number, "content": jsonable(x.Content)}
	}
	return v
}

// intValue reads a CBOR integer decoded into any.
func intValue(v any) (int, bool) {
	switch x := v.(type) {
	case uint64:
		if x <= 1<<31 {
			return int(x), true
		}
	case int64:
		if x >= -1<<31 {
			return int(x), true
		}
	}
	return 0, false
}
