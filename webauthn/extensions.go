package webauthn

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"slices"

	"github.com/vauth/vauth/ctap2/client"
)

// The client extensions (WebAuthn §10, CTAP 2.1 §12) the client runs as a
// browser does: credProps; credProtect (credentialProtectionPolicy and
// enforceCredentialProtectionPolicy); credBlob and getCredBlob; largeBlob
// (over CTAP's largeBlobKey and authenticatorLargeBlobs); prf (over
// hmac-secret, and hmac-secret-mc to evaluate at creation). Inputs for
// extensions the authenticator lacks are dropped, as browsers drop them,
// unless the relying party insists.

// CTAP extension identifiers.
const (
	extCredProtect  = "credProtect"
	extCredBlob     = "credBlob"
	extLargeBlobKey = "largeBlobKey"
	extHMACSecret   = client.ExtHMACSecret
	extHMACSecretMC = client.ExtHMACSecretMC
)

// credProtectPolicies are credentialProtectionPolicy's values, by the
// credProtect level each asks for.
var credProtectPolicies = map[string]uint8{
	"userVerificationOptional":                     1,
	"userVerificationOptionalWithCredentialIDList": 2,
	"userVerificationRequired":                     3,
}

// prfLabel starts every PRF salt: salt = SHA-256("WebAuthn PRF" || 0x00 ||
// input), so that a web page cannot ask for the hmac-secret of a salt that
// another application uses.
const prfLabel = "WebAuthn PRF\x00"

// largeBlobInputs is AuthenticationExtensionsLargeBlobInputs.
type largeBlobInputs struct {
	Support string    `json:"support,omitempty"`
	Read    bool      `json:"read,omitempty"`
	Write   Base64URL `json:"write,omitempty"`
}

// prfValues is AuthenticationExtensionsPRFValues.
type prfValues struct {
	First  Base64URL `json:"first"`
	Second Base64URL `json:"second,omitempty"`
}

// prfInputs is AuthenticationExtensionsPRFInputs.
type prfInputs struct {
	Eval             *prfValues           `json:"eval,omitempty"`
	EvalByCredential map[string]prfValues `json:"evalByCredential,omitempty"`
}

// createExtensionInputs are the inputs of navigator.credentials.create()
// that the client implements.
type createExtensionInputs struct {
	CredProps                         bool             `json:"credProps,omitempty"`
	CredentialProtectionPolicy        string           `json:"credentialProtectionPolicy,omitempty"`
	EnforceCredentialProtectionPolicy bool             `json:"enforceCredentialProtectionPolicy,omitempty"`
	CredBlob                          Base64URL        `json:"credBlob,omitempty"`
	LargeBlob                         *largeBlobInputs `json:"largeBlob,omitempty"`
	PRF                               *prfInputs       `json:"prf,omitempty"`
}

// getExtensionInputs are the inputs of navigator.credentials.get() that
// the client implements.
type getExtensionInputs struct {
	GetCredBlob bool             `json:"getCredBlob,omitempty"`
	LargeBlob   *largeBlobInputs `json:"largeBlob,omitempty"`
	PRF         *prfInputs       `json:"prf,omitempty"`
}

// parseExtensions reads the extensions member of the options into v.
func parseExtensions(in map[string]json.RawMessage, v any) error {
	if len(in) == 0 {
		return nil
	}
	b, err := json.Marshal(in)
	if err == nil {
		err = json.Unmarshal(b, v)
	}
	if err != nil {
		return &Error{Name: TypeError, Message: "malformed extension inputs", Err: err}
	}
	return nil
}

// supports reports whether getInfo lists a CTAP extension.
func supports(inf *client.Info, ext string) bool { return slices.Contains(inf.Extensions, ext) }

// largeBlobSupported reports whether the authenticator keeps large blobs.
func largeBlobSupported(inf *client.Info) bool {
	return inf.Options["largeBlobs"] && supports(inf, extLargeBlobKey)
}

// prfSalt is the hmac-secret salt of a PRF input.
func prfSalt(input []byte) []byte {
	s := sha256.Sum256(append([]byte(prfLabel), input...))
	return s[:]
}

// newPRFSecret starts the hmac-secret exchange of PRF values: their salts
// (salt2 nil without a second) under a new shared secret.
func newPRFSecret(ctx context.Context, c *Client, v *prfValues) (*client.HMACSecret, error) {
	salt1 := prfSalt(v.First)
	var salt2 []byte
	if v.Second != nil {
		salt2 = prfSalt(v.Second)
	}
	h, err := c.ctap.NewHMACSecret(ctx, 0, salt1, salt2)
	if err != nil {
		return nil, ctapError(err)
	}
	return h, nil
}

// addPRFResults sets prf's results to the PRF outputs of the hmac-secret
// output under id, when an exchange h was in flight and the authenticator
// answered it.
func addPRFResults(prf map[string]any, h *client.HMACSecret, ad *client.AuthData, id string) error {
	if h == nil {
		return nil
	}
	var enc []byte
	if ok, err := ad.Extension(id, &enc); err != nil || !ok {
		return err
	}
	first, second, err := h.Outputs(enc)
	if err != nil {
		return err
	}
	results := map[string]any{"first": Base64URL(first)}
	if second != nil {
		results["second"] = Base64URL(second)
	}
	prf["results"] = results
	return nil
}

// registration is the client extension processing of one
// navigator.credentials.create().
type registration struct {
	in         createExtensionInputs
	hmacSecret *client.HMACSecret // hmac-secret-mc in flight
}

// authenticatorInputs returns the CTAP extension inputs of a registration
// (nil when none), or the error a browser raises for the client inputs.
func (x *registration) authenticatorInputs(ctx context.Context, c *Client, inf *client.Info) (map[string]any, error) {
	out := map[string]any{}
	if level, ok := credProtectPolicies[x.in.CredentialProtectionPolicy]; ok {
		switch {
		case supports(inf, extCredProtect):
			out[extCredProtect] = level
		case x.in.EnforceCredentialProtectionPolicy && level > 1:
			return nil, &Error{Name: NotAllowedError, Message: "the authenticator cannot protect the credential as enforceCredentialProtectionPolicy asks"}
		}
	}
	if x.in.CredBlob != nil && supports(inf, extCredBlob) && len(x.in.CredBlob) <= inf.MaxCredBlobLength {
		out[extCredBlob] = []byte(x.in.CredBlob)
	}
	if lb := x.in.LargeBlob; lb != nil {
		switch {
		case lb.Read || lb.Write != nil:
			return nil, &Error{Name: NotSupportedError, Message: "largeBlob read and write belong to navigator.credentials.get()"}
		case largeBlobSupported(inf):
			out[extLargeBlobKey] = true
		case lb.Support == "required":
			return nil, &Error{Name: NotSupportedError, Message: "the authenticator has no large-blob storage"}
		}
	}
	if p := x.in.PRF; p != nil && supports(inf, extHMACSecret) {
		if p.EvalByCredential != nil {
			return nil, &Error{Name: NotSupportedError, Message: "prf evalByCredential at registration"}
		}
		out[extHMACSecret] = true
		if p.Eval != nil && supports(inf, extHMACSecretMC) {
			h, err := newPRFSecret(ctx, c, p.Eval)
			if err != nil {
				return nil, err
			}
			x.hmacSecret = h
			out[extHMACSecretMC] = h.Input()
		}
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

// results are the client extension outputs of a registration, for the
// extensions the relying party asked for.
func (x *registration) results(ad *client.AuthData, resp *client.MakeCredentialResponse, rk bool) (map[string]any, error) {
	out := map[string]any{}
	if x.in.CredProps {
		out["credProps"] = map[string]bool{"rk": rk}
	}
	if x.in.CredBlob != nil {
		var stored bool
		if _, err := ad.Extension(extCredBlob, &stored); err != nil {
			return nil, err
		}
		out["credBlob"] = stored
	}
	if x.in.LargeBlob != nil {
		out["largeBlob"] = map[string]bool{"supported": resp.LargeBlobKey != nil}
	}
	if x.in.PRF != nil {
		var enabled bool
		if _, err := ad.Extension(extHMACSecret, &enabled); err != nil {
			return nil, err
		}
		prf := map[string]any{"enabled": enabled}
		if err := addPRFResults(prf, x.hmacSecret, ad, extHMACSecretMC); err != nil {
			return nil, err
		}
		out["prf"] = prf
	}
	return out, nil
}

// authentication is the client extension processing of one
// navigator.credentials.get().
type authentication struct {
	in         getExtensionInputs
	hmacSecret *client.HMACSecret
}

// check raises what a browser raises for inputs it cannot run.
func (x *authentication) check(opts *RequestOptions) error {
	if lb := x.in.LargeBlob; lb != nil && (lb.Support != "" || (lb.Read && lb.Write != nil)) {
		return &Error{Name: NotSupportedError, Message: "largeBlob takes read or write at navigator.credentials.get()"}
	}
	if p := x.in.PRF; p != nil && len(p.EvalByCredential) > 0 {
		if len(opts.AllowCredentials) == 0 {
			return &Error{Name: NotSupportedError, Message: "prf evalByCredential without allowCredentials"}
		}
		for id := range p.EvalByCredential {
			if _, err := base64.RawURLEncoding.DecodeString(id); err != nil {
				return &Error{Name: "SyntaxError", Message: "prf evalByCredential key is not base64url", Err: err}
			}
		}
	}
	return nil
}

// writesLargeBlob reports whether the assertion writes a large blob, which
// needs a pinUvAuthToken with the lbw permission.
func (x *authentication) writesLargeBlob() bool {
	return x.in.LargeBlob != nil && x.in.LargeBlob.Write != nil
}

// authenticatorInputs returns the CTAP extension inputs of an assertion
// (nil when none).
func (x *authentication) authenticatorInputs(ctx context.Context, c *Client, inf *client.Info, opts *RequestOptions) (map[string]any, error) {
	out := map[string]any{}
	if x.in.GetCredBlob && supports(inf, extCredBlob) {
		out[extCredBlob] = true
	}
	if x.in.LargeBlob != nil && largeBlobSupported(inf) {
		out[extLargeBlobKey] = true
	}
	if p := x.in.PRF; p != nil && supports(inf, extHMACSecret) {
		values := p.Eval
		if len(opts.AllowCredentials) == 1 {
			if v, ok := p.EvalByCredential[base64.RawURLEncoding.EncodeToString(opts.AllowCredentials[0].ID)]; ok {
				values = &v
			}
		}
		if values != nil {
			h, err := newPRFSecret(ctx, c, values)
			if err != nil {
				return nil, err
			}
			x.hmacSecret = h
			out[extHMACSecret] = h.Input()
		}
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

// results are the client extension outputs of the chosen assertion; they
// read or write its large blob.
func (x *authentication) results(ctx context.Context, c *Client, ad *client.AuthData, chosen *client.GetAssertionResponse, tok *client.Token) (map[string]any, error) {
	out := map[string]any{}
	if x.in.GetCredBlob {
		var blob []byte
		if ok, err := ad.Extension(extCredBlob, &blob); err != nil {
			return nil, err
		} else if ok {
			out["getCredBlob"] = Base64URL(blob)
		}
	}
	if lb := x.in.LargeBlob; lb != nil {
		result := map[string]any{}
		switch key := chosen.LargeBlobKey; {
		case key == nil && lb.Write != nil:
			result["written"] = false
		case key == nil:
		case lb.Read:
			blob, err := c.ctap.GetLargeBlob(ctx, key)
			if err != nil {
				return nil, ctapError(err)
			}
			if blob != nil {
				result["blob"] = Base64URL(blob)
			}
		case lb.Write != nil:
			result["written"] = c.ctap.PutLargeBlob(ctx, key, lb.Write, tok) == nil
		}
		out["largeBlob"] = result
	}
	if x.in.PRF != nil {
		prf := map[string]any{}
		if err := addPRFResults(prf, x.hmacSecret, ad, extHMACSecret); err != nil {
			return nil, err
		}
		out["prf"] = prf
	}
	return out, nil
}
