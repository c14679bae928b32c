package ctap2_test

import (
	"crypto/sha256"
	"testing"

	"github.com/vauth/vauth/ctap2/pinuv"
	"github.com/vauth/vauth/internal/cose"
	"github.com/vauth/vauth/keystore"
)

// TestCredentialManagementEveryAlgorithm: enumerateCredentials gives each
// discoverable credential's public key as the COSE key of its algorithm
// (CTAP 2.1 §6.8, enumerateCredentials), byte for byte what the keystore holds.
func TestCredentialManagementEveryAlgorithm(t *testing.T) {
	d := newCredMgmtDevice(t)
	hash := sha256.Sum256([]byte("algs.example"))
	want := map[string]*keystore.Credential{}
	for _, alg := range keystore.Preferred() {
		name := keystore.AlgorithmName(alg)
		c, err := d.store.Create(keystore.CreateRequest{RPID: "algs.example", RPIDHash: hash, Algorithm: alg, Discoverable: true,
			User: keystore.User{ID: []byte(name), Name: name}})
		if err != nil {
			t.Fatal(err)
		}
		want[name] = c
	}
	m := d.cm(d.token(2, testPIN, pinuv.PermissionCM, ""))
	creds, err := m.Credentials(t.Context(), hash[:])
	if err != nil || len(creds) != len(want) {
		t.Fatalf("enumerateCredentials: %d credentials, %v; want %d", len(creds), err, len(want))
	}
	for _, c := range creds {
		w := want[c.User.Name]
		key, err := cose.Parse(c.PublicKey)
		if err != nil || w == nil || key.Alg != w.Algorithm {
			t.Fatalf("%s: public key %x (%v), want algorithm %v", c.User.Name, c.PublicKey, err, w)
		}
		if pub, _ := key.PublicKey(); !cose.Equal(pub, w.PublicKey) {
			t.Errorf("%s: public key differs from the stored one", c.User.Name)
		}
	}
}
