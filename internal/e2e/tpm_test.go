package e2e

// A TPM-backed security key as libfido2 sees it: `vauth run --keystore tpm`
// on the machine's TPM through the kernel resource manager (/dev/tpmrm0;
// in the VM, swtpm behind tpm-tis: run-in-vm.sh --tpm).

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"encoding/pem"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/fxamacker/cbor/v2"

	"github.com/vauth/vauth/internal/cose"
	"github.com/vauth/vauth/keystore/tpm"
)

// requireTPM skips unless the machine has a TPM resource manager, or
// fails when VAUTH_E2E_TPM_REQUIRED=1 (the VM run attaches a TPM).
func requireTPM(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(tpm.DefaultDevice); err == nil {
		return
	}
	msg := "no " + tpm.DefaultDevice + " here: run-in-vm.sh --tpm gives the VM one"
	if os.Getenv("VAUTH_E2E_TPM_REQUIRED") == "1" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// tpmCredential makes a credential of fido2-cred type alg with fido2-cred
// -M on a TPM store, whose attestation is tpm. libfido2 verifies tpm
// statements of RS256 keys only (Windows Hello's), so the public key comes
// from the authenticator data that fido2-cred printed, and is written as
// PEM for fido2-assert -V.
func tpmCredential(t *testing.T, tools fido2Tools, dev, rpID, alg string, resident bool) credential {
	t.Helper()
	c := credential{rpID: rpID, alg: alg, resident: resident, userID: b64(randomBytes(16))}
	args := []string{"-M", "-q"}
	if resident {
		args = append(args, "-r")
	}
	made := run(t, lines(b64(randomBytes(32)), rpID, "tpm-user", c.userID), nil, tools.cred, append(args, dev, alg)...)
	fields := strings.Split(strings.TrimSuffix(made, "\n"), "\n")
	if len(fields) < 6 || fields[1] != rpID || fields[2] != "tpm" {
		t.Fatalf("fido2-cred -M printed %q, want rp id %q and attestation format tpm", made, rpID)
	}
	c.id = fields[4]
	authData := decodeB64(t, fields[3])
	var raw []byte // fido2-cred prints authenticator data as a CBOR byte string
	if err := cbor.Unmarshal(authData, &raw); err == nil {
		authData = raw
	}
	// rpIdHash 32, flags 1, signCount 4, AAGUID 16, credential ID length 2,
	// credential ID, credential public key.
	const idLenOffset = 32 + 1 + 4 + 16
	if len(authData) < idLenOffset+2 {
		t.Fatalf("authenticator data of %d bytes has no attested credential", len(authData))
	}
	idLen := int(binary.BigEndian.Uint16(authData[idLenOffset:]))
	if got := authData[idLenOffset+2:][:idLen]; b64(got) != c.id {
		t.Fatalf("authenticator data holds credential ID %s, fido2-cred printed %s", b64(got), c.id)
	}
	key, err := cose.Parse(authData[idLenOffset+2+idLen:])
	if err != nil {
		t.Fatalf("credential public key: %v", err)
	}
	for _, a := range fido2Algorithms {
		if a.typ == alg && key.Alg != a.alg {
			t.Fatalf("fido2-cred -M %s made a key of COSE algorithm %d, want %d", alg, key.Alg, a.alg)
		}
	}
	pub, err := key.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	c.publicKey = filepath.Join(t.TempDir(), "pubkey.pem")
	if err := os.WriteFile(c.publicKey, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return c
}

func decodeB64(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatalf("base64 %q: %v", s, err)
	}
	return b
}

// TestTPMLibfido2: libfido2 registers TPM-backed credentials (tpm
// attestation) of every type it shares with the TPM (swtpm: es256, es384,
// rs256), gets assertions that verify with their public keys, before and
// after vauth restarts; the device refuses EdDSA, which no TPM makes.
func TestTPMLibfido2(t *testing.T) {
	requireTPM(t)
	tools := requireFido2Tools(t)
	store := t.TempDir()
	v := startVauth(t, store, "--keystore", "tpm")

	info := run(t, "", nil, tools.token, "-I", v.hidraw)
	algs := infoField(info, "algorithms")
	for _, want := range []string{"es256 (public-key)", "es384 (public-key)", "rs256 (public-key)"} {
		if !slices.Contains(algs, want) {
			t.Errorf("fido2-token -I lists algorithms %q on a swtpm store, want %s among them", algs, want)
		}
	}
	if slices.Contains(algs, "eddsa (public-key)") {
		t.Errorf("fido2-token -I lists eddsa on a TPM store: %q", algs)
	}
	var creds []credential
	for _, alg := range []string{"es256", "es384", "rs256"} {
		creds = append(creds,
			tpmCredential(t, tools, v.hidraw, alg+".tpm.example.org", alg, false),
			tpmCredential(t, tools, v.hidraw, alg+".tpm-rk.example.org", alg, true))
	}
	for _, c := range creds {
		if err := verifyAssertion(t, tools, getAssertion(t, tools, v.hidraw, c), c.publicKey, c.alg); err != nil {
			t.Errorf("%s (resident %v): %v", c.rpID, c.resident, err)
		}
	}
	if _, stderr, err := runResult(t, lines(b64(randomBytes(32)), "eddsa.example.org", "u", b64(randomBytes(8))), nil,
		tools.cred, "-M", "-q", v.hidraw, "eddsa"); err == nil {
		t.Error("fido2-cred -M eddsa succeeded on a TPM store")
	} else {
		t.Logf("fido2-cred -M eddsa: %v: %s", err, stderr)
	}

	v.stop(t)
	again := startVauth(t, store, "--keystore", "auto") // the store's marker says tpm
	for _, c := range creds {
		if err := verifyAssertion(t, tools, getAssertion(t, tools, again.hidraw, c), c.publicKey, c.alg); err != nil {
			t.Errorf("%s after restarting vauth: %v", c.rpID, err)
		}
	}
	t.Logf("vauth run:\n%s", again.log)
}
