package ctap2

import (
	"fmt"

	"github.com/vauth/vauth/keystore"
)

// Extension identifiers (CTAP 2.1 §12; hmac-secret-mc is CTAP 2.2's), one
// file each: extensions_cred_protect.go, extensions_cred_blob.go,
// extensions_large_blob_key.go, extensions_hmac_secret.go,
// extensions_min_pin_length.go. Extensions the authenticator does not
// implement are ignored, as §12 requires of an input it does not
// understand.
const (
	extCredBlob     = "credBlob"
	extCredProtect  = "credProtect"
	extHMACSecret   = "hmac-secret"
	extHMACSecretMC = "hmac-secret-mc"
	extLargeBlobKey = "largeBlobKey"
	extMinPINLength = "minPinLength"
)

// supportedExtensions is getInfo's extensions: exactly those implemented.
var supportedExtensions = []string{extCredBlob, extCredProtect, extHMACSecret, extHMACSecretMC, extLargeBlobKey, extMinPINLength, extThirdPartyPayment}

// makeCredentialExtensionInputs are the extension inputs of an
// authenticatorMakeCredential that the authenticator implements.
type makeCredentialExtensionInputs struct {
	credProtect  uint8  // 0: absent
	credBlob     []byte // nil: absent
	hmacSecret   bool   // "hmac-secret": true
	hmacSecretMC *hmacSecretInput
	largeBlobKey bool
	minPINLength bool
	// thirdPartyPayment is the input true.
	thirdPartyPayment bool
}

// getAssertionExtensionInputs are the extension inputs of an
// authenticatorGetAssertion that the authenticator implements.
type getAssertionExtensionInputs struct {
	credBlob     bool
	hmacSecret   *hmacSecretInput
	largeBlobKey bool
	// thirdPartyPayment is the input true.
	thirdPartyPayment bool
}

// decodeMakeCredentialExtensions reads the extensions parameter of
// authenticatorMakeCredential, if present.
func decodeMakeCredentialExtensions(p params, key paramKey) (makeCredentialExtensionInputs, error) {
	var x makeCredentialExtensionInputs
	m, present, err := field[params](p, key, "extensions")
	if err != nil || !present {
		return x, err
	}
	if x.credProtect, err = decodeCredProtect(m); err != nil {
		return x, err
	}
	if x.credBlob, _, err = field[[]byte](m, extCredBlob, extCredBlob); err != nil {
		return x, err
	}
	if x.hmacSecret, _, err = field[bool](m, extHMACSecret, extHMACSecret); err != nil {
		return x, err
	}
	if raw, ok := m.lookup(extHMACSecretMC); ok {
		if x.hmacSecretMC, err = decodeHMACSecretInput(raw, extHMACSecretMC); err != nil {
			return x, err
		}
	}
	if x.largeBlobKey, err = decodeLargeBlobKey(m); err != nil {
		return x, err
	}
	if x.minPINLength, _, err = field[bool](m, extMinPINLength, extMinPINLength); err != nil {
		return x, err
	}
	x.thirdPartyPayment, err = decodeThirdPartyPayment(m)
	return x, err
}

// decodeGetAssertionExtensions reads the extensions parameter of
// authenticatorGetAssertion, if present.
func decodeGetAssertionExtensions(p params, key paramKey) (getAssertionExtensionInputs, error) {
	var x getAssertionExtensionInputs
	m, present, err := field[params](p, key, "extensions")
	if err != nil || !present {
		return x, err
	}
	if x.credBlob, _, err = field[bool](m, extCredBlob, extCredBlob); err != nil {
		return x, err
	}
	if raw, ok := m.lookup(extHMACSecret); ok {
		if x.hmacSecret, err = decodeHMACSecretInput(raw, extHMACSecret); err != nil {
			return x, err
		}
	}
	if x.largeBlobKey, err = decodeLargeBlobKey(m); err != nil {
		return x, err
	}
	x.thirdPartyPayment, err = decodeThirdPartyPayment(m)
	return x, err
}

// extensionOutputs are the authenticator extension outputs of one response,
// by identifier; nil when there are none.
type extensionOutputs map[string]any

// set records an output.
func (o *extensionOutputs) set(id string, v any) {
	if *o == nil {
		*o = extensionOutputs{}
	}
	(*o)[id] = v
}

// marshal encodes the outputs as authenticator data carries them (a CBOR
// map after the attested credential data, with the ED flag); nil when
// there are none.
func (o extensionOutputs) marshal() ([]byte, error) {
	if len(o) == 0 {
		return nil, nil
	}
	b, err := encMode.Marshal(map[string]any(o))
	if err != nil {
		return nil, fmt.Errorf("encoding the extension outputs: %w", err)
	}
	return b, nil
}

// makeCredentialExtensionData processes the extensions of a new
// credential before it is made (§6.1.2 step 15): what the keystore keeps
// with it (credProtect, credBlob, largeBlobKey, the thirdPartyPayment
// mark) goes into createReq, and
// the outputs that do not depend on the credential into the returned map.
func (a *Authenticator) makeCredentialExtensionData(x makeCredentialExtensionInputs, rpID string, rk bool, createReq *keystore.CreateRequest) (extensionOutputs, error) {
	var out extensionOutputs
	if x.credProtect != 0 {
		createReq.CredProtect = x.credProtect
		out.set(extCredProtect, x.credProtect)
	}
	if x.credBlob != nil {
		stored := len(x.credBlob) <= keystore.MaxCredBlobLength
		if stored {
			createReq.CredBlob = x.credBlob
		}
		out.set(extCredBlob, stored)
	}
	if x.largeBlobKey && rk {
		key, err := newLargeBlobKey()
		if err != nil {
			return nil, err
		}
		createReq.LargeBlobKey = key
	}
	if x.hmacSecret {
		out.set(extHMACSecret, true)
	}
	if x.minPINLength && a.minPINLengthAllowed(rpID) {
		out.set(extMinPINLength, a.pin.MinPINLength)
	}
	if x.thirdPartyPayment {
		createReq.ThirdPartyPayment = true
		out.set(extThirdPartyPayment, true)
	}
	return out, nil
}
