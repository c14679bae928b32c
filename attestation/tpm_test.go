package attestation

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-tpm/tpm2/transport"

	"github.com/vauth/vauth/internal/testenv"
	"github.com/vauth/vauth/keystore"
	"github.com/vauth/vauth/keystore/tpm"
	"github.com/vauth/vauth/keystore/tpm/tpmtest"
)

// openTPMStore opens a TPM keystore in dir on t, closing it when the test
// ends (closing twice is harmless).
func openTPMStore(t *testing.T, tp transport.TPM, dir string) *tpm.Store {
	t.Helper()
	ks, err := tpm.Open(dir, tpm.Options{TPM: tp})
	if err != nil {
		t.Fatalf("tpm.Open: %v", err)
	}
	t.Cleanup(func() { _ = ks.Close() })
	return ks
}

// newTPMStore opens a TPM keystore on a fresh simulator.
func newTPMStore(t *testing.T) *tpm.Store {
	return openTPMStore(t, tpmtest.Simulator(t), t.TempDir())
}

// The go-tpm-tools simulator's identity: Microsoft's reference TPM.
const (
	simulatorManufacturer = "id:4D534654" // "MSFT"
	simulatorModel        = "xCG fTPM"
)

func TestTPMAttest(t *testing.T) {
	ks := newTPMStore(t)
	att, err := New(KindTPM, DefaultAAGUID, ks, nil)
	if err != nil {
		t.Fatalf("New(tpm): %v", err)
	}
	ca, err := LoadOrCreateCA(ks)
	if err != nil {
		t.Fatal(err)
	}
	aik, err := ks.AttestationKey()
	if err != nil {
		t.Fatal(err)
	}
	cdh := sha256.Sum256([]byte(`{"type":"webauthn.create","challenge":"AAAA","origin":"https://example.com"}`))
	otherHash := sha256.Sum256([]byte("another ceremony"))
	for _, discoverable := range []bool{false, true} {
		name := "non-discoverable"
		if discoverable {
			name = "discoverable"
		}
		t.Run(name, func(t *testing.T) {
			cred, err := ks.Create(keystore.CreateRequest{
				RPID: testRPID, RPIDHash: sha256.Sum256([]byte(testRPID)), Algorithm: keystore.ES256,
				Discoverable: discoverable, User: keystore.User{ID: []byte{1}, Name: "alice"},
			})
			if err != nil {
				t.Fatal(err)
			}
			authData := makeAuthData(t, cred, DefaultAAGUID, 0)
			stmt, err := att.Attest(ks, cred, authData, cdh[:])
			if err != nil {
				t.Fatalf("Attest: %v", err)
			}
			if stmt.Format != FormatTPM {
				t.Errorf("Format = %q, want tpm", stmt.Format)
			}
			checkTPMStatement(t, stmt, aik, ca)

			gotType, err := verifyWebAuthn(t, stmt, authData, cdh[:])
			if err != nil {
				t.Fatalf("go-webauthn rejects the tpm attestation: %v", err)
			}
			if gotType != "attca" {
				t.Errorf("go-webauthn attestation type = %q, want attca", gotType)
			}
			if _, err := verifyWebAuthn(t, stmt, authData, otherHash[:]); err == nil {
				t.Error("go-webauthn accepts the statement with another clientDataHash")
			}
			verifyPythonTPM(t, attestationObject(t, stmt, authData), cdh[:], ca)
		})
	}
}

// checkTPMStatement checks a tpm attStmt against WebAuthn §8.3 and its AIK
// certificate against §8.3.1, with crypto/x509 alone.
func checkTPMStatement(t *testing.T, stmt Statement, aik any, ca *CA) {
	t.Helper()
	keys := make([]string, 0, len(stmt.AttStmt))
	for k := range stmt.AttStmt {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if want := []string{"alg", "certInfo", "pubArea", "sig", "ver", "x5c"}; !slices.Equal(keys, want) {
		t.Errorf("attStmt keys %v, want %v", keys, want)
	}
	if stmt.AttStmt[stmtVer] != "2.0" || stmt.AttStmt[stmtAlg] != keystore.ES256 {
		t.Errorf("attStmt ver %v alg %v, want 2.0 and -7", stmt.AttStmt[stmtVer], stmt.AttStmt[stmtAlg])
	}
	x5c, ok := stmt.AttStmt[stmtX5C].([][]byte)
	if !ok || len(x5c) != 1 {
		t.Fatalf("x5c = %#v, want the AIK certificate", stmt.AttStmt[stmtX5C])
	}
	cert, err := x509.ParseCertificate(x5c[0])
	if err != nil {
		t.Fatal(err)
	}
	if !cert.PublicKey.(*ecdsa.PublicKey).Equal(aik) {
		t.Error("the AIK certificate certifies another key than the TPM's attestation key")
	}
	if err := cert.CheckSignature(x509.ECDSAWithSHA256, stmt.AttStmt[stmtCertInfo].([]byte), stmt.AttStmt[stmtSig].([]byte)); err != nil {
		t.Errorf("sig is not the AIK's signature over certInfo: %v", err)
	}
	checkAIKCertificate(t, cert, ca, DefaultAAGUID, simulatorManufacturer, simulatorModel)
}

// checkAIKCertificate checks the §8.3.1 requirements of an AIK certificate
// and that it chains to ca.
func checkAIKCertificate(t *testing.T, cert *x509.Certificate, ca *CA, aaguid [16]byte, manufacturer, model string) {
	t.Helper()
	if cert.Version != 3 {
		t.Errorf("version %d, want 3", cert.Version)
	}
	if !bytes.Equal(cert.RawSubject, []byte{0x30, 0}) {
		t.Errorf("subject %q, want empty", cert.Subject)
	}
	if !cert.BasicConstraintsValid || cert.IsCA {
		t.Error("basic constraints missing or CA true")
	}
	if !slices.ContainsFunc(cert.UnknownExtKeyUsage, oidAIKCertificate.Equal) {
		t.Errorf("extended key usages %v lack tcg-kp-AIKCertificate", cert.UnknownExtKeyUsage)
	}
	if got, ok := certAAGUID(cert); !ok || got != aaguid {
		t.Errorf("AAGUID extension %x (%v), want %x", got, ok, aaguid)
	}
	var attrs map[string]string
	for _, ext := range cert.Extensions {
		if ext.Id.Equal(oidSubjectAltName) {
			if !ext.Critical {
				t.Error("SAN is not critical although the subject is empty")
			}
			attrs = sanAttributes(t, ext.Value)
		}
	}
	want := map[string]string{oidTPMManufacturer.String(): manufacturer, oidTPMModel.String(): model}
	for oid, v := range want {
		if attrs[oid] != v {
			t.Errorf("SAN %s = %q, want %q", oid, attrs[oid], v)
		}
	}
	if v := attrs[oidTPMVersion.String()]; len(v) != len("id:")+8 || !strings.HasPrefix(v, "id:") {
		t.Errorf("SAN TPM version %q, want id: and 8 hex digits", v)
	}
	// crypto/x509 does not read a directoryName SAN, so it counts the
	// critical extension as unhandled: a relying party drops it from the
	// list, as go-webauthn does, once it has checked it itself.
	chainable := *cert
	chainable.UnhandledCriticalExtensions = slices.DeleteFunc(slices.Clone(cert.UnhandledCriticalExtensions), oidSubjectAltName.Equal)
	roots := x509.NewCertPool()
	roots.AddCert(ca.Certificate())
	if _, err := chainable.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		t.Errorf("AIK certificate does not chain to the CA: %v", err)
	}
}

// sanAttributes decodes the directoryName of an AIK certificate's SAN into
// its attributes by OID.
func sanAttributes(t *testing.T, san []byte) map[string]string {
	t.Helper()
	var names []asn1.RawValue
	if rest, err := asn1.Unmarshal(san, &names); err != nil || len(rest) != 0 || len(names) != 1 {
		t.Fatalf("SAN: %v, %d names; want one directoryName", err, len(names))
	}
	if names[0].Class != asn1.ClassContextSpecific || names[0].Tag != sanDirectoryName {
		t.Fatalf("SAN holds a [%d] name, want directoryName [4]", names[0].Tag)
	}
	var rdns pkix.RDNSequence
	if rest, err := asn1.Unmarshal(names[0].Bytes, &rdns); err != nil || len(rest) != 0 {
		t.Fatalf("SAN directoryName: %v", err)
	}
	attrs := map[string]string{}
	for _, rdn := range rdns {
		for _, a := range rdn {
			v, ok := a.Value.(string)
			if !ok {
				t.Errorf("SAN attribute %s is a %T, want a string", a.Type, a.Value)
			}
			attrs[a.Type.String()] = v
		}
	}
	return attrs
}

// verifyPythonTPM has python-fido2's TpmAttestation verify the attestation
// object and its chain to ca (testdata/python/tpm_attestation.py).
func verifyPythonTPM(t *testing.T, attObj, clientDataHash []byte, ca *CA) {
	t.Helper()
	const python = "/usr/bin/python3"
	testenv.Require(t, exec.Command(python, "-c", "import fido2").Run() == nil, "python3-fido2 (Debian package python3-fido2)")
	script := filepath.Join("..", "testdata", "python", "tpm_attestation.py")
	out, err := exec.Command(python, script, hex.EncodeToString(attObj), hex.EncodeToString(clientDataHash),
		hex.EncodeToString(ca.Certificate().Raw)).CombinedOutput()
	t.Logf("python-fido2:\n%s", out)
	if err != nil || !strings.Contains(string(out), "all checks passed") {
		t.Fatalf("python-fido2 rejects the tpm attestation: %v", err)
	}
}

// The AIK certificate is made once and kept; it is made again for another
// AAGUID, and after Reset, which gives the TPM store a new attestation key.
func TestTPMAttestCertificateKept(t *testing.T) {
	sim := tpmtest.Simulator(t)
	dir := t.TempDir()
	ks := openTPMStore(t, sim, dir)
	attest := func(ks *tpm.Store, aaguid [16]byte) *x509.Certificate {
		t.Helper()
		att, err := New(KindTPM, aaguid, ks, nil)
		if err != nil {
			t.Fatalf("New(tpm): %v", err)
		}
		cred := newCredential(t, ks, keystore.ES256)
		authData := makeAuthData(t, cred, aaguid, 0)
		cdh := make([]byte, 32)
		stmt, err := att.Attest(ks, cred, authData, cdh)
		if err != nil {
			t.Fatalf("Attest: %v", err)
		}
		if _, err := verifyWebAuthn(t, stmt, authData, cdh); err != nil {
			t.Fatalf("go-webauthn rejects the tpm attestation: %v", err)
		}
		cert, err := x509.ParseCertificate(stmt.AttStmt[stmtX5C].([][]byte)[0])
		if err != nil {
			t.Fatal(err)
		}
		return cert
	}
	first := attest(ks, DefaultAAGUID)
	if err := ks.Close(); err != nil {
		t.Fatal(err)
	}
	ks = openTPMStore(t, sim, dir)
	if again := attest(ks, DefaultAAGUID); !bytes.Equal(again.Raw, first.Raw) {
		t.Error("the reopened store made a new AIK certificate")
	}
	other := [16]byte{0: 0xaa, 15: 0x55}
	if c := attest(ks, other); bytes.Equal(c.Raw, first.Raw) {
		t.Error("another AAGUID got the same AIK certificate")
	} else if got, _ := certAAGUID(c); got != other {
		t.Errorf("AIK certificate for AAGUID %x, want %x", got, other)
	}
	if err := ks.Reset(); err != nil {
		t.Fatal(err)
	}
	renewed := attest(ks, DefaultAAGUID)
	if renewed.PublicKey.(*ecdsa.PublicKey).Equal(first.PublicKey) {
		t.Error("after Reset, the AIK certificate still certifies the old attestation key")
	}
}

func TestTPMAttestErrors(t *testing.T) {
	soft := newStore(t)
	if _, err := New(KindTPM, DefaultAAGUID, soft, nil); !errors.Is(err, errNeedsTPM) || !strings.Contains(err.Error(), "--keystore tpm") {
		t.Errorf("New(tpm) on a soft store = %v, want the --keystore tpm error", err)
	}
	ks := newTPMStore(t)
	att, err := New(KindTPM, DefaultAAGUID, ks, nil)
	if err != nil {
		t.Fatal(err)
	}
	softCred := newCredential(t, soft, keystore.ES256)
	tpmCred := newCredential(t, ks, keystore.ES256)
	otherAAGUID := [16]byte{0: 1}
	cdh := make([]byte, 32)
	tests := []struct {
		name     string
		ks       keystore.Keystore
		cred     *keystore.Credential
		authData []byte
		wantErr  string
		wantIs   error
	}{
		{"soft keystore", soft, softCred, makeAuthData(t, softCred, DefaultAAGUID, 0), "the soft keystore", errNeedsTPM},
		{"no keystore", nil, tpmCred, makeAuthData(t, tpmCred, DefaultAAGUID, 0), "no keystore", errNeedsTPM},
		{"no credential", ks, nil, makeAuthData(t, tpmCred, DefaultAAGUID, 0), "needs a credential", nil},
		{"AAGUID mismatch", ks, tpmCred, makeAuthData(t, tpmCred, otherAAGUID, 0), "carries AAGUID", nil},
		{"credential of another store", ks, softCred, makeAuthData(t, softCred, DefaultAAGUID, 0), "TPM2_Certify", tpm.ErrNotCertifiable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := att.Attest(tc.ks, tc.cred, tc.authData, cdh)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Attest = %v, want an error mentioning %q", err, tc.wantErr)
			}
			if tc.wantIs != nil && !errors.Is(err, tc.wantIs) {
				t.Errorf("Attest = %v, want it to wrap %v", err, tc.wantIs)
			}
		})
	}
}
