package main

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/protocol/webauthncose"
	gowebauthn "github.com/go-webauthn/webauthn/webauthn"

	"github.com/vauth/vauth/internal/demo"
	"github.com/vauth/vauth/keystore"
	"github.com/vauth/vauth/keystore/tpm/tpmtest"
)

// TestAlgorithmsFlag: --algorithms restricts and orders getInfo's
// algorithms, `vauth info` and `vauth ctl algorithms` show them, ctl
// changes them; a bad list or --rsa-bits is a usage error, and an
// algorithm the keystore cannot make fails the start with a clear error.
func TestAlgorithmsFlag(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--algorithms", "es256,bogus"}, `"bogus"`},
		{[]string{"--algorithms", "rs256,-257"}, "RS256 is listed twice"},
		{[]string{"--rsa-bits", "4096"}, "--rsa-bits 4096: want 2048 or 3072"},
	} {
		_, stderr, status := vauth(t, append([]string{"run", "--store", t.TempDir(), "--transport", "unix:" + t.TempDir() + "/s"}, tc.args...)...)
		if status != exitUsage || !strings.Contains(stderr, tc.want) {
			t.Errorf("run %v: exit %d, stderr %q; want usage error mentioning %q", tc.args, status, stderr, tc.want)
		}
	}

	store := t.TempDir()
	d := startDaemon(t, store, "--algorithms", "rs256,ES256,-8", "--rsa-bits", "3072")
	var algs []int
	for _, a := range getInfo(t, d).Algorithms {
		algs = append(algs, a.Alg)
	}
	if want := []int{keystore.RS256, keystore.ES256, keystore.EdDSA}; !slices.Equal(algs, want) {
		t.Errorf("getInfo algorithms %v, want %v", algs, want)
	}
	if out, _, status := vauth(t, "info", "--store", store); status != 0 || !strings.Contains(out, "RS256, ES256, EdDSA") {
		t.Errorf("vauth info (exit %d):\n%s", status, out)
	}
	if _, stderr, status := vauth(t, "ctl", "--store", store, "algorithms", "es512,es256k"); status != 0 {
		t.Fatalf("ctl algorithms: exit %d: %s", status, stderr)
	}
	if out, _, _ := vauth(t, "ctl", "--store", store, "algorithms"); !strings.Contains(out, `"ES512",`) || !strings.Contains(out, `"ES256K"`) {
		t.Errorf("ctl algorithms after setting ES512,ES256K:\n%s", out)
	}
	if _, stderr, status := vauth(t, "ctl", "--store", store, "algorithms", "rs1"); status == 0 || !strings.Contains(stderr, "rs1") {
		t.Errorf("ctl algorithms rs1: exit %d, %s", status, stderr)
	}

	// `vauth creds show` of a passkey of each algorithm, through the
	// running daemon: PEM and JWK of the key the relying party received.
	if _, stderr, status := vauth(t, "ctl", "--store", store, "algorithms", "--all"); status != 0 {
		t.Fatalf("ctl algorithms --all: %s", stderr)
	}
	rp, err := demo.NewRP(demo.RPID, demo.Origin)
	if err != nil {
		t.Fatal(err)
	}
	c := dialClient(t, d)
	for _, alg := range keystore.Preferred() {
		name := keystore.AlgorithmName(alg)
		u := &demo.User{ID: []byte(name), Name: name, DisplayName: name}
		if _, err := rp.Register(t.Context(), c, u, gowebauthn.WithResidentKeyRequirement(protocol.ResidentKeyRequirementRequired),
			gowebauthn.WithCredentialParameters([]protocol.CredentialParameter{{Type: protocol.PublicKeyCredentialType, Algorithm: webauthncose.COSEAlgorithmIdentifier(alg)}})); err != nil {
			t.Fatalf("%s: %v\n%s", name, err, d.log)
		}
		var listed struct{ Credentials []credential }
		if err := json.Unmarshal([]byte(ok(t, nil, "creds", "list", "--store", store, "--json", "--user", name)), &listed); err != nil || len(listed.Credentials) != 1 {
			t.Fatalf("%s: creds list: %v %v", name, listed, err)
		}
		var shown credential
		if err := json.Unmarshal([]byte(ok(t, nil, "creds", "show", "--store", store, "--json", listed.Credentials[0].ID.String())), &shown); err != nil {
			t.Fatal(err)
		}
		k := shown.PublicKey
		if shown.Algorithm != alg || k == nil || k.AlgorithmName != name || !strings.Contains(k.PEM, "BEGIN PUBLIC KEY") || k.JWK["alg"] != name {
			t.Errorf("%s: creds show: %+v, key %+v", name, shown, k)
		}
	}

	// A TPM has no Ed25519: the error names what this one makes.
	sw := tpmtest.StartSwtpm(t, t.TempDir())
	runFails(t, "the tpm keystore cannot make EdDSA keys (it makes ES256, ES384, ES512, RS256, PS256)",
		"--store", t.TempDir(), "--keystore", "tpm", "--tpm", sw.Device, "--algorithms", "es256,eddsa")
}
