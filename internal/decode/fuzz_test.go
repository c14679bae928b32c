package decode

import (
	"encoding/base64"
	"testing"
)

// FuzzDecode feeds Decode arbitrary input: it may refuse it, but must not
// panic, and what it accepts must render.
func FuzzDecode(f *testing.F) {
	v := loadVectors(f)
	for _, r := range v.Registrations {
		ao := unhex(f, r.AttestationObject)
		f.Add(ao)
		f.Add([]byte(r.AttestationObject))
		f.Add(credentialJSONOf(f, unhex(f, r.CredentialID), map[string]string{
			"attestationObject": b64u(ao), "clientDataJSON": b64u(unhex(f, r.ClientDataJSON)),
		}))
	}
	for _, a := range v.Assertions {
		f.Add(unhex(f, a.AuthenticatorData))
		f.Add(unhex(f, a.CredentialPublicKey))
		f.Add(credentialJSONOf(f, unhex(f, a.CredentialID), map[string]string{
			"authenticatorData": b64u(unhex(f, a.AuthenticatorData)), "clientDataJSON": b64u(unhex(f, a.ClientDataJSON)),
			"signature": b64u(unhex(f, a.Signature)),
		}))
	}
	f.Add([]byte(base64.StdEncoding.EncodeToString(unhex(f, v.Registrations[0].ClientDataJSON))))
	key, err := ParseCOSEKey(unhex(f, v.Assertions[0].CredentialPublicKey))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := Decode(data, Options{PublicKey: key})
		if err != nil {
			return
		}
		var sink discard
		r.WriteText(&sink)
		_ = r.Failures()
		_ = r.CredentialKey()
	})
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
