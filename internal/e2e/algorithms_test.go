package e2e

// Every credential algorithm libfido2 1.12 knows (fido2-cred(1): es256,
// es384, rs256, eddsa) made and used through the uhid device, and
// python-fido2 with the ones it knows, including an allowList longer than
// the maxCredentialCountInList that RSA's long credential IDs leave room
// for at uhid's message size.

import (
	"crypto"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"

	"github.com/vauth/vauth/ctap2/client"
	"github.com/vauth/vauth/internal/cose"
	"github.com/vauth/vauth/internal/testenv"
	"github.com/vauth/vauth/keystore"
)

// fido2Algorithms are fido2-cred's credential types and the COSE
// algorithms they ask for.
var fido2Algorithms = []struct {
	typ string
	alg int
}{
	{"es256", cose.AlgES256},
	{"es384", cose.AlgES384},
	{"rs256", cose.AlgRS256},
	{"eddsa", cose.AlgEdDSA},
}

// TestFido2Algorithms: for each of libfido2's types, discoverable and not,
// fido2-cred -M makes a credential that fido2-cred -V verifies, whose
// attested key has that type's COSE algorithm (no silent fallback to
// ES256) and is the key fido2-cred -V printed, and fido2-assert -V
// verifies an assertion of it. A vauth restricted by --algorithms refuses
// the types it no longer offers.
func TestFido2Algorithms(t *testing.T) {
	tools := requireFido2Tools(t)
	v := startVauth(t, t.TempDir())
	offered := infoField(run(t, "", nil, tools.token, "-I", v.hidraw), "algorithms")
	for _, a := range fido2Algorithms {
		for _, resident := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/resident=%v", a.typ, resident), func(t *testing.T) {
				if !slices.Contains(offered, a.typ+" (public-key)") {
					t.Errorf("fido2-token -I's algorithms %q lack %s", offered, a.typ)
				}
				// One RP per case, so that a discoverable assertion finds
				// exactly this case's credential.
				rpID := fmt.Sprintf("alg-%s-rk%v.example.org", a.typ, resident)
				start := time.Now()
				c := makeCredential(t, tools, v.hidraw, rpID, a.typ, resident)
				made := time.Since(start)
				checkAttestedKey(t, c, a.alg)
				start = time.Now()
				if err := verifyAssertion(t, tools, getAssertion(t, tools, v.hidraw, c), c.publicKey, a.typ); err != nil {
					t.Error(err)
				}
				idLen, _ := base64.StdEncoding.DecodeString(c.id)
				t.Logf("%s: credential ID of %d bytes; made and verified in %v, asserted and verified in %v",
					keystore.AlgorithmName(a.alg), len(idLen), made.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
			})
		}
	}

	t.Run("restricted", func(t *testing.T) {
		r := startVauth(t, t.TempDir(), "--algorithms", "es256,eddsa")
		if got := infoField(run(t, "", nil, tools.token, "-I", r.hidraw), "algorithms"); !slices.Equal(got, []string{"es256 (public-key)", "eddsa (public-key)"}) {
			t.Errorf("fido2-token -I's algorithms with --algorithms es256,eddsa: %q", got)
		}
		for _, typ := range []string{"es384", "rs256"} {
			in := lines(b64(randomBytes(32)), "restricted.example.org", "user-"+typ, b64(randomBytes(16)))
			_, stderr, err := runResult(t, in, nil, tools.cred, "-M", "-q", r.hidraw, typ)
			if err == nil || !strings.Contains(stderr, "FIDO_ERR_UNSUPPORTED_ALGORITHM") {
				t.Errorf("fido2-cred -M %s with --algorithms es256,eddsa: %v, %q; want FIDO_ERR_UNSUPPORTED_ALGORITHM", typ, err, stderr)
			}
		}
		makeCredential(t, tools, r.hidraw, "restricted.example.org", "eddsa", false)
	})
}

// checkAttestedKey checks that the credential public key in c's attested
// credential data has the COSE algorithm alg, that the credential ID there
// is c's, and that the key is the one fido2-cred -V printed.
func checkAttestedKey(t *testing.T, c credential, alg int) {
	t.Helper()
	wrapped, err := base64.StdEncoding.DecodeString(c.authData)
	if err != nil {
		t.Fatalf("authenticator data %q: %v", c.authData, err)
	}
	// fido2-cred prints the authenticator data as the CBOR byte string
	// of the attestation object's authData.
	var raw []byte
	if err := cbor.Unmarshal(wrapped, &raw); err != nil {
		t.Fatalf("authenticator data is not a CBOR byte string: %v", err)
	}
	ad, err := client.ParseAuthData(raw)
	if err != nil {
		t.Fatalf("authenticator data: %v", err)
	}
	if ad.Flags&client.FlagAT == 0 {
		t.Fatalf("authenticator data without attested credential data (flags %#x)", ad.Flags)
	}
	if got := b64(ad.CredentialID); got != c.id {
		t.Errorf("attested credential ID %s, fido2-cred -V printed %s", got, c.id)
	}
	key, err := cose.Parse(ad.PublicKey)
	if err != nil {
		t.Fatalf("attested public key: %v", err)
	}
	if key.Alg != alg {
		t.Errorf("attested key's COSE algorithm %d (%s), want %d (%s)", key.Alg, keystore.AlgorithmName(key.Alg), alg, keystore.AlgorithmName(alg))
	}
	attested, err := key.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	if rk, ok := attested.(*rsa.PublicKey); ok && rk.N.BitLen() != 2048 {
		t.Errorf("RSA key of %d bits; fido2-cred's rs256 means 2048", rk.N.BitLen())
	}
	pemBytes, err := os.ReadFile(c.publicKey)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(pemBytes)
	if block == nil {
		t.Fatalf("fido2-cred -V's public key is not PEM: %q", pemBytes)
	}
	printed, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		t.Fatalf("fido2-cred -V's public key: %v", err)
	}
	if !attested.(interface{ Equal(crypto.PublicKey) bool }).Equal(printed) {
		t.Errorf("fido2-cred -V printed a %T that is not the attested %T", printed, attested)
	}
}

// TestPythonFido2Algorithms runs testdata/algorithms.py: python-fido2's
// client and server over hidraw with every algorithm vauth offers,
// and an allowList of all of them, longer than maxCredentialCountInList.
func TestPythonFido2Algorithms(t *testing.T) {
	requireUhid(t)
	testenv.Require(t, exec.Command(python, "-c", "import fido2.hid.linux").Run() == nil, "python3-fido2 for "+python)
	v := startVauth(t, t.TempDir())
	start := time.Now()
	out, stderr, err := runResult(t, "", nil, python, "testdata/algorithms.py", v.hidraw)
	if err != nil || !strings.Contains(out, "all checks passed") {
		t.Fatalf("testdata/algorithms.py over %s: %v\n%s%s\nvauth:\n%s", v.hidraw, err, out, stderr, v.log)
	}
	t.Logf("testdata/algorithms.py over %s in %v:\n%s", v.hidraw, time.Since(start).Round(time.Millisecond), out)
}
