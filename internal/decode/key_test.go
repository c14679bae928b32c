package decode

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"strings"
	"testing"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"
	"golang.org/x/crypto/ssh"
)

// TestKeyForms round-trips keys through every form: COSE, JWK and PEM each
// decode back to the same key.
func TestKeyForms(t *testing.T) {
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	p521, _ := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	k1, _ := secp256k1.GeneratePrivateKey()
	edPub, _, _ := ed25519.GenerateKey(rand.Reader)
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	for _, tc := range []struct {
		name string
		pub  any
		alg  int
		jwk  string
	}{
		{"ES256", &p256.PublicKey, AlgES256, `"kty":"EC"`},
		{"ES384", &p384.PublicKey, AlgES384, `"crv":"P-384"`},
		{"ES512", &p521.PublicKey, AlgES512, `"crv":"P-521"`},
		{"ES256K", k1.PubKey(), AlgES256K, `"crv":"secp256k1"`},
		{"EdDSA", edPub, AlgEdDSA, `"kty":"OKP"`},
		{"RS256", &rsaKey.PublicKey, AlgRS256, `"kty":"RSA"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k, err := KeyFromPublic(tc.pub, 0)
			if err != nil {
				t.Fatal(err)
			}
			if k.Algorithm != tc.alg || k.AlgorithmName != tc.name || !strings.Contains(k.JWKJSON(), tc.jwk) {
				t.Errorf("key %s %s %s", k.AlgorithmName, k.Description, k.JWKJSON())
			}
			for form, in := range map[string]string{"COSE": string(k.COSE), "JWK": k.JWKJSON(), "PEM": k.PEM} {
				r, err := Decode([]byte(in), Options{})
				if err != nil {
					t.Fatalf("%s: %v", form, err)
				}
				got := r.CredentialKey()
				if got.PEM != k.PEM || got.Algorithm != k.Algorithm {
					t.Errorf("%s round trip: %s %d, want %s %d", form, got.PEM, got.Algorithm, k.PEM, k.Algorithm)
				}
			}
		})
	}
}

// TestSSH checks the OpenSSH lines of security-key keys with
// golang.org/x/crypto/ssh, which parses them as OpenSSH does.
func TestSSH(t *testing.T) {
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	edPub, _, _ := ed25519.GenerateKey(rand.Reader)
	for _, tc := range []struct {
		name        string
		pub         any
		application string
		wantType    string
	}{
		{"ecdsa-sk", &p256.PublicKey, "ssh:", ssh.KeyAlgoSKECDSA256},
		{"ed25519-sk", edPub, "ssh:work", ssh.KeyAlgoSKED25519},
		{"not an ssh: RP", edPub, "example.com", ""},
		{"P-384 is no sk key", &p384.PublicKey, "ssh:", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k, err := KeyFromPublic(tc.pub, 0)
			if err != nil {
				t.Fatal(err)
			}
			k.SetSSH(tc.application, "alice@host")
			if tc.wantType == "" {
				if k.SSH != "" {
					t.Fatalf("SSH line %q for %s", k.SSH, tc.application)
				}
				return
			}
			pk, comment, _, _, err := ssh.ParseAuthorizedKey([]byte(k.SSH))
			if err != nil {
				t.Fatalf("ParseAuthorizedKey(%q): %v", k.SSH, err)
			}
			if pk.Type() != tc.wantType || comment != "alice@host" {
				t.Errorf("type %s comment %q, want %s", pk.Type(), comment, tc.wantType)
			}
			// The application is part of the key.
			other := *k
			other.SetSSH(tc.application+"x", "")
			if other.SSH == k.SSH {
				t.Error("the application does not change the key")
			}
		})
	}
}
