package control

import (
	"errors"
	"slices"
	"testing"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/protocol/webauthncose"
	gowebauthn "github.com/go-webauthn/webauthn/webauthn"

	"github.com/vauth/vauth/internal/daemon"
	"github.com/vauth/vauth/internal/presence"
	"github.com/vauth/vauth/keystore"
)

// TestAlgorithms restricts and reorders the algorithms offered, at start
// and through the API, and registers at go-webauthn (which lists ES256,
// ES384, ES512, RS256... in its default pubKeyCredParams) to see which
// one the authenticator picks: the RP's first that is offered.
func TestAlgorithms(t *testing.T) {
	f := start(t, daemon.Options{Algorithms: []int{keystore.RS256, keystore.ES384}})
	check := func(want ...string) {
		t.Helper()
		info, err := f.ctl.Info(f.ctx)
		got, err2 := f.ctl.Algorithms(f.ctx)
		if err != nil || err2 != nil || !slices.Equal(info.Algorithms, want) || !slices.Equal(got.Algorithms, want) {
			t.Errorf("Info algorithms %v, Algorithms %v (%v, %v); want %v", info.Algorithms, got.Algorithms, err, err2, want)
		}
	}
	registered := func(name string, want int, opts ...gowebauthn.RegistrationOption) {
		t.Helper()
		f.register(t, name, opts...)
		creds, err := f.ctl.Credentials(f.ctx)
		if err != nil || len(creds) == 0 {
			t.Fatalf("Credentials = %v, %v", creds, err)
		}
		if c := creds[0]; c.UserName != name || c.Algorithm != want {
			t.Errorf("%s: newest credential %s of algorithm %d, want %s", name, c.UserName, c.Algorithm, keystore.AlgorithmName(want))
		}
	}
	check("RS256", "ES384")
	registered("first", keystore.ES384) // go-webauthn lists ES384 before RS256

	for _, tc := range []struct {
		set  []string
		want []string
	}{
		{[]string{"rs256", "-8"}, []string{"RS256", "EdDSA"}},
		{[]string{"PS256"}, []string{"PS256"}},
		{nil, []string{"ES256", "EdDSA", "ES384", "ES512", "RS256", "PS256", "ES256K"}},
	} {
		if err := f.ctl.SetAlgorithms(f.ctx, tc.set); err != nil {
			t.Fatalf("SetAlgorithms(%v): %v", tc.set, err)
		}
		check(tc.want...)
	}
	if err := f.ctl.SetAlgorithms(f.ctx, []string{"ES256K"}); err != nil {
		t.Fatal(err)
	}
	// go-webauthn verifies ES256K but does not ask for it by default.
	registered("k1", keystore.ES256K, gowebauthn.WithCredentialParameters([]protocol.CredentialParameter{
		{Type: protocol.PublicKeyCredentialType, Algorithm: webauthncose.AlgES256K},
	}))
	for _, bad := range [][]string{{}, {"RS1"}, {"es256", "-7"}, {"bogus"}} {
		var apiErr *APIError
		if err := f.ctl.SetAlgorithms(f.ctx, bad); !errors.As(err, &apiErr) || !errors.Is(err, ErrInvalid) {
			t.Errorf("SetAlgorithms(%q) = %v, want 400", bad, err)
		}
	}
	check("ES256K")

	if _, err := Open(daemon.Options{Store: t.TempDir(), Keystore: "soft", Presence: presence.Always(), Algorithms: []int{-65535}}); err == nil {
		t.Error("Open with an algorithm the keystore does not make succeeded")
	}
}
