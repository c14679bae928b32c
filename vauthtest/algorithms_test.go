package vauthtest_test

import (
	"testing"

	"github.com/vauth/vauth/keystore"
	"github.com/vauth/vauth/vauthtest"
)

// TestWithAlgorithms: a relying party whose pubKeyCredParams (go-webauthn's
// default: ES256, ES384, ES512, RS256...) leads with an algorithm the key
// does not offer falls back to the next; SetAlgorithms changes the offer
// while the key runs; an algorithm vauth cannot make fails Start.
func TestWithAlgorithms(t *testing.T) {
	key := vauthtest.New(t, vauthtest.WithAlgorithms(keystore.RS256, keystore.EdDSA))
	c := key.Client("https://example.com")
	for _, tc := range []struct {
		offer []int
		want  int
	}{
		{nil, keystore.RS256}, // as WithAlgorithms set it
		{[]int{keystore.ES512, keystore.ES256}, keystore.ES256},
		{[]int{keystore.PS256}, keystore.PS256},
	} {
		if tc.offer != nil {
			if err := key.SetAlgorithms(tc.offer...); err != nil {
				t.Fatal(err)
			}
		}
		cred, err := register(t, c)
		if err != nil {
			t.Fatalf("offer %v: %v", tc.offer, err)
		}
		if got := int(cred.Attestation.PublicKeyAlgorithm); got != tc.want {
			t.Errorf("offer %v: registered %s, want %s", tc.offer, keystore.AlgorithmName(got), keystore.AlgorithmName(tc.want))
		}
	}
	if err := key.SetAlgorithms(-65535); err == nil {
		t.Error("SetAlgorithms(RS1) succeeded")
	}
	if a, err := vauthtest.Start(vauthtest.WithAlgorithms(-65535)); err == nil {
		a.Close()
		t.Error("Start with RS1 succeeded")
	}
}
