package webauthn

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
)

// Base64URL is binary data that JSON carries as unpadded base64url, as the
// WebAuthn Level 3 JSON forms do. Decoding also accepts padding.
type Base64URL []byte

// MarshalJSON encodes b as unpadded base64url.
func (b Base64URL) MarshalJSON() ([]byte, error) {
	return json.Marshal(base64.RawURLEncoding.EncodeToString(b))
}

// UnmarshalJSON decodes base64url with or without padding.
func (b *Base64URL) UnmarshalJSON(data []byte) error {
	var s string
	if err := json.Unmarshal(data, &s); err != nil {
		return fmt.Errorf("webauthn: want a base64url string: %w", err)
	}
	v, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
	if err != nil {
		return fmt.Errorf("webauthn: bad base64url %q: %w", s, err)
	}
	*b = v
	return nil
}

// RPEntity is PublicKeyCredentialRpEntity.
type RPEntity struct {
	ID   string `json:"id,omitempty"`
	Name string `json:"name"`
}

// UserEntity is PublicKeyCredentialUserEntityJSON.
type UserEntity struct {
	ID          Base64URL `json:"id"`
	Name        string    `json:"name"`
	DisplayName string    `json:"displayName"`
}

// CredentialParameter is PublicKeyCredentialParameters.
type CredentialParameter struct {
	Type string `json:"type"`
	Alg  int    `json:"alg"`
}

// CredentialDescriptor is PublicKeyCredentialDescriptorJSON.
type CredentialDescriptor struct {
	Type       string    `json:"type"`
	ID         Base64URL `json:"id"`
	Transports []string  `json:"transports,omitempty"`
}

// AuthenticatorSelection is AuthenticatorSelectionCriteria.
type AuthenticatorSelection struct {
	AuthenticatorAttachment string `json:"authenticatorAttachment,omitempty"`
	ResidentKey             string `json:"residentKey,omitempty"`
	RequireResidentKey      bool   `json:"requireResidentKey,omitempty"`
	UserVerification        string `json:"userVerification,omitempty"`
}

// CreationOptions is PublicKeyCredentialCreationOptionsJSON.
type CreationOptions struct {
	RP                     RPEntity                   `json:"rp"`
	User                   UserEntity                 `json:"user"`
	Challenge              Base64URL                  `json:"challenge"`
	PubKeyCredParams       []CredentialParameter      `json:"pubKeyCredParams"`
	Timeout                int                        `json:"timeout,omitempty"`
	ExcludeCredentials     []CredentialDescriptor     `json:"excludeCredentials,omitempty"`
	AuthenticatorSelection *AuthenticatorSelection    `json:"authenticatorSelection,omitempty"`
	Attestation            string                     `json:"attestation,omitempty"`
	Extensions             map[string]json.RawMessage `json:"extensions,omitempty"`
}

// RequestOptions is PublicKeyCredentialRequestOptionsJSON.
type RequestOptions struct {
	Challenge        Base64URL                  `json:"challenge"`
	Timeout          int                        `json:"timeout,omitempty"`
	RPID             string                     `json:"rpId,omitempty"`
	AllowCredentials []CredentialDescriptor     `json:"allowCredentials,omitempty"`
	UserVerification string                     `json:"userVerification,omitempty"`
	Extensions       map[string]json.RawMessage `json:"extensions,omitempty"`
}

// ParseCreationOptions reads creation options as a relying party sends them:
// bare, or wrapped as {"publicKey": {...}} (CredentialCreationOptions).
func ParseCreationOptions(data []byte) (*CreationOptions, error) {
	var o CreationOptions
	if err := parseWrapped(data, &o); err != nil {
		return nil, err
	}
	return &o, nil
}

// ParseRequestOptions reads request options, bare or wrapped as
// {"publicKey": {...}}.
func ParseRequestOptions(data []byte) (*RequestOptions, error) {
	var o RequestOptions
	if err := parseWrapped(data, &o); err != nil {
		return nil, err
	}
	return &o, nil
}

func parseWrapped(data []byte, v any) error {
	var wrapper struct {
		PublicKey json.RawMessage `json:"publicKey"`
	}
	if err := json.Unmarshal(data, &wrapper); err != nil {
		return &Error{Name: TypeError, Message: "options are not JSON", Err: err}
	}
	if wrapper.PublicKey != nil {
		data = wrapper.PublicKey
	}
	if err := json.Unmarshal(data, v); err != nil {
		return &Error{Name: TypeError, Message: "malformed options", Err: err}
	}
	return nil
}

// AttestationResponse is AuthenticatorAttestationResponseJSON.
type AttestationResponse struct {
	ClientDataJSON     Base64URL `json:"clientDataJSON"`
	AuthenticatorData  Base64URL `json:"authenticatorData"`
	Transports         []string  `json:"transports"`
	PublicKey          Base64URL `json:"publicKey,omitempty"`
	PublicKeyAlgorithm int       `json:"publicKeyAlgorithm"`
	AttestationObject  Base64URL `json:"attestationObject"`
}

// AssertionResponse is AuthenticatorAssertionResponseJSON.
type AssertionResponse struct {
	ClientDataJSON    Base64URL `json:"clientDataJSON"`
	AuthenticatorData Base64URL `json:"authenticatorData"`
	Signature         Base64URL `json:"signature"`
	UserHandle        Base64URL `json:"userHandle,omitempty"`
}

// RegistrationCredential is RegistrationResponseJSON: what
// PublicKeyCredential.toJSON() gives after navigator.credentials.create().
type RegistrationCredential struct {
	ID                      string              `json:"id"`
	RawID                   Base64URL           `json:"rawId"`
	Response                AttestationResponse `json:"response"`
	AuthenticatorAttachment string              `json:"authenticatorAttachment"`
	ClientExtensionResults  map[string]any      `json:"clientExtensionResults"`
	Type                    string              `json:"type"`
}

// AssertionCredential is AuthenticationResponseJSON: what
// PublicKeyCredential.toJSON() gives after navigator.credentials.get().
type AssertionCredential struct {
	ID                      string            `json:"id"`
	RawID                   Base64URL         `json:"rawId"`
	Response                AssertionResponse `json:"response"`
	AuthenticatorAttachment string            `json:"authenticatorAttachment"`
	ClientExtensionResults  map[string]any    `json:"clientExtensionResults"`
	Type                    string            `json:"type"`
}
