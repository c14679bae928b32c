package main

import (
	"context"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	gowebauthn "github.com/go-webauthn/webauthn/webauthn"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/protocol/webauthncose"

	"github.com/vauth/vauth/attestation"
	"github.com/vauth/vauth/ctap2/client"
	"github.com/vauth/vauth/hid"
	"github.com/vauth/vauth/hid/socket"
	"github.com/vauth/vauth/internal/demo"
	"github.com/vauth/vauth/keystore"
	"github.com/vauth/vauth/keystore/tpm"
	"github.com/vauth/vauth/keystore/tpm/tpmtest"
)

// getInfo asks the daemon for its authenticatorGetInfo over the cable.
func getInfo(t *testing.T, d *daemonProc) *client.Info {
	t.Helper()
	tr, err := socket.Dial(d.socket)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	hc, err := hid.NewClient(tr)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	info, err := client.New(hc).GetInfo(ctx)
	if err != nil {
		t.Fatalf("getInfo: %v\n%s", err, d.log)
	}
	return info
}

// runFails runs `vauth run` with args, which must exit with an error
// mentioning want, before it serves anything.
func runFails(t *testing.T, want string, args ...string) {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "vauth.sock")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, vauthBin, append([]string{"run", "--transport", "unix:" + sock, "--presence", "always"}, args...)...).CombinedOutput()
	if err == nil {
		t.Fatalf("vauth run %v succeeded, want an error mentioning %q:\n%s", args, want, out)
	}
	if !strings.Contains(string(out), want) {
		t.Fatalf("vauth run %v: %v\n%s\nwant an error mentioning %q", args, err, out, want)
	}
}

// TestTPMEndToEnd runs the real binary on a TPM store on swtpm: it
// registers a passkey with tpm attestation (verified by go-webauthn at the
// relying party and by python-fido2), offers swtpm's algorithms and
// registers and signs in with each, refuses EdDSA, signs in, and still
// signs in after vauth restarts and after the TPM itself restarts;
// the store then refuses another backend and is useless on another TPM.
func TestTPMEndToEnd(t *testing.T) {
	state, store := t.TempDir(), t.TempDir()
	sw := tpmtest.StartSwtpm(t, state)
	rp, err := demo.NewRP(demo.RPID, demo.Origin)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	// --keystore tpm; the attestation is tpm by default on a TPM store.
	d := startDaemon(t, store, "--keystore", "tpm", "--tpm", sw.Device)
	info := getInfo(t, d)
	var algs []int
	for _, a := range info.Algorithms {
		algs = append(algs, a.Alg)
	}
	tpmAlgs := []int{keystore.ES256, keystore.ES384, keystore.ES512, keystore.RS256, keystore.PS256}
	if !slices.Equal(algs, tpmAlgs) {
		t.Errorf("getInfo algorithms %v on a TPM store, want swtpm's %v", algs, tpmAlgs)
	}
	c := dialClient(t, d)
	// A credential of each algorithm, with tpm attestation, registered and
	// used at go-webauthn.
	for _, alg := range tpmAlgs {
		name := keystore.AlgorithmName(alg)
		u := &demo.User{ID: []byte("tpm-" + name), Name: name, DisplayName: name}
		cred, err := rp.Register(ctx, c, u, gowebauthn.WithConveyancePreference(protocol.PreferDirectAttestation),
			gowebauthn.WithCredentialParameters([]protocol.CredentialParameter{{Type: protocol.PublicKeyCredentialType, Algorithm: webauthncose.COSEAlgorithmIdentifier(alg)}}))
		if err != nil {
			t.Fatalf("%s: register: %v\n%s", name, err, d.log)
		}
		if cred.AttestationFormat != attestation.FormatTPM || cred.AttestationType != "attca" {
			t.Errorf("%s: go-webauthn saw attestation %s (%s), want tpm (attca)", name, cred.AttestationFormat, cred.AttestationType)
		}
		if who, _, err := rp.Login(ctx, c, u); err != nil || who != u {
			t.Errorf("%s: sign-in: %v\n%s", name, err, d.log)
		}
	}
	if out, _, status := vauth(t, "info", "--store", store); status != 0 ||
		!strings.Contains(out, "ES256, ES384, ES512, RS256, PS256 (what this TPM supports)") {
		t.Errorf("vauth info (exit %d):\n%s", status, out)
	}
	u := &demo.User{ID: []byte("tpm-user"), Name: "tpm@example.com", DisplayName: "TPM User"}
	cred, err := rp.Register(ctx, c, u,
		gowebauthn.WithResidentKeyRequirement(protocol.ResidentKeyRequirementRequired),
		gowebauthn.WithConveyancePreference(protocol.PreferDirectAttestation))
	if err != nil {
		t.Fatalf("register: %v\n%s", err, d.log)
	}
	if cred.AttestationFormat != attestation.FormatTPM || cred.AttestationType != "attca" {
		t.Errorf("go-webauthn saw attestation %s (%s), want tpm (attca)", cred.AttestationFormat, cred.AttestationType)
	}
	// EdDSA alone is refused: the TPM has no Ed25519.
	_, err = rp.Register(ctx, c, &demo.User{ID: []byte("eddsa"), Name: "eddsa"}, func(o *protocol.PublicKeyCredentialCreationOptions) error {
		o.Parameters = []protocol.CredentialParameter{{Type: protocol.PublicKeyCredentialType, Algorithm: -8}}
		return nil
	})
	t.Logf("EdDSA-only registration: %v", err)
	if err == nil || !strings.Contains(strings.ToLower(err.Error()), "algorithm") {
		t.Errorf("EdDSA-only registration on a TPM store: %v, want an unsupported-algorithm error", err)
	}
	login := func(d *daemonProc, when string) {
		t.Helper()
		before := u.Credentials[0].Authenticator.SignCount
		who, got, err := rp.Login(ctx, dialClient(t, d), nil)
		if err != nil || who != u {
			t.Fatalf("%s: passkey sign-in: %v (user %v)\n%s", when, err, who, d.log)
		}
		if got.Authenticator.SignCount <= before || got.Authenticator.CloneWarning {
			t.Errorf("%s: counter went from %d to %d", when, before, got.Authenticator.SignCount)
		}
	}
	login(d, "first sign-in")
	d.kill(syscall.SIGTERM)

	// Restart vauth: auto follows the store's marker.
	d = startDaemon(t, store, "--tpm", sw.Device)
	login(d, "after restarting vauth")
	d.kill(syscall.SIGTERM)

	// Restart the TPM too (swtpm keeps its state, as a machine across a
	// reboot).
	sw.Stop()
	sw = tpmtest.StartSwtpm(t, state)
	d = startDaemon(t, store, "--tpm", sw.Device)
	login(d, "after restarting the TPM")
	d.kill(syscall.SIGTERM)

	runFails(t, "made with the tpm keystore", "--store", store, "--keystore", "soft")
	copied := filepath.Join(t.TempDir(), "copy")
	if out, err := exec.Command("cp", "-a", store, copied).CombinedOutput(); err != nil {
		t.Fatalf("copy the store: %v\n%s", err, out)
	}
	other := tpmtest.StartSwtpm(t, t.TempDir())
	runFails(t, "was the store made with another TPM", "--store", copied, "--tpm", other.Device)
	other.Stop()

	// python-fido2 verifies the attestation the relying party received, up
	// to vauth's CA, read from the store now that vauth has stopped.
	ks, err := tpm.Open(store, tpm.Options{Device: sw.Device})
	if err != nil {
		t.Fatal(err)
	}
	ca, err := attestation.LoadOrCreateCA(ks)
	ks.Close()
	if err != nil {
		t.Fatal(err)
	}
	requirePython(t, "fido2")
	out, err := exec.Command(python, filepath.Join("..", "..", "testdata", "python", "tpm_attestation.py"),
		hex.EncodeToString(cred.Attestation.Object), hex.EncodeToString(cred.Attestation.ClientDataHash),
		hex.EncodeToString(ca.Certificate().Raw)).CombinedOutput()
	t.Logf("python-fido2:\n%s", out)
	if err != nil || !strings.Contains(string(out), "all checks passed") {
		t.Fatalf("python-fido2 rejects the tpm attestation: %v", err)
	}
}

// On a machine without a TPM, auto makes a soft store and says so; a
// store made soft stays soft.
func TestAutoWithoutTPM(t *testing.T) {
	if _, err := os.Stat(tpm.DefaultDevice); err == nil {
		t.Skipf("this machine has %s", tpm.DefaultDevice)
	}
	store := t.TempDir()
	d := startDaemon(t, store)
	if info := getInfo(t, d); len(info.Algorithms) < 2 {
		t.Errorf("getInfo algorithms %v on a soft store, want ES256 and EdDSA", info.Algorithms)
	}
	d.kill(syscall.SIGTERM)
	if !strings.Contains(d.log.String(), "no usable TPM") {
		t.Errorf("vauth did not say why the store is soft:\n%s", d.log)
	}
	runFails(t, "made with the soft keystore", "--store", store, "--keystore", "tpm")
}
