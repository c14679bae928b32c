package attestation

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/vauth/vauth/keystore"
	"github.com/vauth/vauth/keystore/soft"
)

// attributeSET and attribute decode a subject keeping each value's ASN.1
// string type, which pkix.Name throws away.
type attributeSET []attribute

type attribute struct {
	Type  asn1.ObjectIdentifier
	Value asn1.RawValue
}

// TestLeafCertificate checks the attestation certificate against WebAuthn
// §8.2.1, field by field.
func TestLeafCertificate(t *testing.T) {
	ks := newStore(t)
	ca, err := LoadOrCreateCA(ks)
	if err != nil {
		t.Fatal(err)
	}
	aaguid := [16]byte{0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff, 0x00}
	l, err := loadOrCreateLeaf(ks, ca, aaguid)
	if err != nil {
		t.Fatal(err)
	}
	cert := l.cert

	if cert.Version != 3 {
		t.Errorf("version %d, want 3", cert.Version)
	}
	var subject []attributeSET
	if rest, err := asn1.Unmarshal(cert.RawSubject, &subject); err != nil || len(rest) != 0 {
		t.Fatalf("subject: %v", err)
	}
	wantSubject := []struct {
		oid   asn1.ObjectIdentifier
		tag   int
		value string
	}{
		{oidCountry, asn1.TagPrintableString, leafCountry},
		{oidOrganization, asn1.TagUTF8String, "vauth"},
		{oidOrganizationalUnit, asn1.TagUTF8String, "Authenticator Attestation"},
		{oidCommonName, asn1.TagUTF8String, "vauth Authenticator Attestation"},
	}
	if len(subject) != len(wantSubject) {
		t.Fatalf("subject has %d attributes, want %d", len(subject), len(wantSubject))
	}
	for i, want := range wantSubject {
		if len(subject[i]) != 1 {
			t.Fatalf("subject RDN %d has %d attributes", i, len(subject[i]))
		}
		got := subject[i][0]
		if !got.Type.Equal(want.oid) || got.Value.Tag != want.tag || string(got.Value.Bytes) != want.value {
			t.Errorf("subject RDN %d = %v tag %d %q, want %v tag %d %q", i, got.Type, got.Value.Tag, got.Value.Bytes, want.oid, want.tag, want.value)
		}
	}
	if len(leafCountry) != 2 || cert.Subject.Country[0] != leafCountry {
		t.Errorf("Subject-C = %q, want a two-letter ISO 3166 code", cert.Subject.Country)
	}

	if !cert.BasicConstraintsValid || cert.IsCA {
		t.Errorf("basic constraints valid=%v CA=%v, want present with CA false", cert.BasicConstraintsValid, cert.IsCA)
	}
	if cert.KeyUsage != x509.KeyUsageDigitalSignature {
		t.Errorf("key usage %v, want digitalSignature only", cert.KeyUsage)
	}
	if pub, ok := cert.PublicKey.(*ecdsa.PublicKey); !ok || pub.Curve != elliptic.P256() {
		t.Errorf("public key %T, want ECDSA P-256 (alg -7)", cert.PublicKey)
	}
	if !bytes.Equal(cert.AuthorityKeyId, ca.Certificate().SubjectKeyId) {
		t.Error("authority key ID is not the CA's subject key ID")
	}
	if !cert.NotAfter.After(time.Now().Add(5*365*24*time.Hour)) || cert.NotAfter.After(ca.Certificate().NotAfter) || cert.NotBefore.After(time.Now()) {
		t.Errorf("validity %s to %s: want current, at least five years, within the CA's", cert.NotBefore, cert.NotAfter)
	}

	wantExt := map[string][]byte{
		// OCTET STRING (16 bytes) holding the AAGUID.
		oidFIDOGenCeAAGUID.String(): append([]byte{0x04, 0x10}, aaguid[:]...),
		// BIT STRING, 5 unused bits, bit 2 (USB) set.
		oidFIDOU2FTransports.String(): {0x03, 0x02, 0x05, 0x20},
	}
	for _, ext := range cert.Extensions {
		want, ok := wantExt[ext.Id.String()]
		if !ok {
			continue
		}
		delete(wantExt, ext.Id.String())
		if ext.Critical {
			t.Errorf("extension %v is critical", ext.Id)
		}
		if !bytes.Equal(ext.Value, want) {
			t.Errorf("extension %v = % x, want % x", ext.Id, ext.Value, want)
		}
	}
	for oid := range wantExt {
		t.Errorf("extension %s missing", oid)
	}
	if got, ok := certAAGUID(cert); !ok || got != aaguid {
		t.Errorf("certAAGUID = %x, %v; want %x", got, ok, aaguid)
	}
}

// TestLeafPersistence: the attestation key of an AAGUID survives restarts,
// another AAGUID gets its own, and a change of CA or a damaged blob makes a
// new one.
func TestLeafPersistence(t *testing.T) {
	dir := t.TempDir()
	var ks *soft.Store
	// restart closes the store and opens it again, as a new vauth process
	// would, and loads vauth's own CA from it.
	restart := func(t *testing.T) *CA {
		t.Helper()
		if ks != nil {
			if err := ks.Close(); err != nil {
				t.Fatal(err)
			}
		}
		ks = openStore(t, dir)
		ca, err := LoadOrCreateCA(ks)
		if err != nil {
			t.Fatal(err)
		}
		return ca
	}
	// attest makes a statement with a new attester, verifies it, and
	// returns its certificate.
	attest := func(t *testing.T, ca *CA, aaguid [16]byte) *x509.Certificate {
		t.Helper()
		cred := newCredential(t, ks, keystore.EdDSA)
		authData := makeAuthData(t, cred, aaguid, 1)
		cdh := make([]byte, 32)
		stmt, err := Basic(ca, aaguid, ks).Attest(ks, cred, authData, cdh)
		if err != nil {
			t.Fatalf("Attest: %v", err)
		}
		if _, err := verifyWebAuthn(t, stmt, authData, cdh); err != nil {
			t.Fatalf("go-webauthn rejects the attestation: %v", err)
		}
		checkChain(t, stmt, ca, authData, cdh)
		cert, err := x509.ParseCertificate(stmt.AttStmt[stmtX5C].([][]byte)[0])
		if err != nil {
			t.Fatal(err)
		}
		if got, ok := certAAGUID(cert); !ok || got != aaguid {
			t.Errorf("certificate AAGUID = %x, want %x", got, aaguid)
		}
		return cert
	}
	aaguidA, aaguidB := DefaultAAGUID, [16]byte{0: 0xaa, 15: 0xbb}

	first := attest(t, restart(t), aaguidA)
	if !strings.HasPrefix(leafBlobName(aaguidA), "attestation/") {
		t.Errorf("attestation key blob %q is not under attestation/", leafBlobName(aaguidA))
	}
	if _, err := ks.GetBlob(leafBlobName(aaguidA)); err != nil {
		t.Fatalf("attestation key not stored: %v", err)
	}
	if again := attest(t, restart(t), aaguidA); !again.Equal(first) {
		t.Error("after a restart the attestation certificate changed")
	}
	if other := attest(t, restart(t), aaguidB); other.Equal(first) || bytes.Equal(other.RawSubjectPublicKeyInfo, first.RawSubjectPublicKeyInfo) {
		t.Error("another AAGUID reuses the attestation certificate or key")
	}
	if again := attest(t, restart(t), aaguidA); !again.Equal(first) {
		t.Error("going back to the first AAGUID changed its certificate")
	}

	// A CA the user supplies replaces the certificate issued by the old one.
	p256 := mustECKey(t, elliptic.P256())
	user, err := LoadCA(userCA(t, p256, nil), pkcs8PEM(t, p256))
	if err != nil {
		t.Fatal(err)
	}
	if underUser := attest(t, user, aaguidA); underUser.Equal(first) {
		t.Error("the certificate issued by the old CA was kept under the user's CA")
	}

	// A damaged stored leaf is replaced.
	if err := ks.PutBlob(leafBlobName(aaguidB), []byte("garbage")); err != nil {
		t.Fatal(err)
	}
	attest(t, restart(t), aaguidB)
	if data, _ := ks.GetBlob(leafBlobName(aaguidB)); bytes.Equal(data, []byte("garbage")) {
		t.Error("the damaged attestation key blob was not replaced")
	}
}

func TestLeafIssuedFor(t *testing.T) {
	ks := newStore(t)
	ca, err := LoadOrCreateCA(ks)
	if err != nil {
		t.Fatal(err)
	}
	otherCA, err := LoadOrCreateCA(newStore(t))
	if err != nil {
		t.Fatal(err)
	}
	l, err := loadOrCreateLeaf(ks, ca, DefaultAAGUID)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	tests := []struct {
		name   string
		ca     *CA
		aaguid [16]byte
		at     time.Time
		want   bool
	}{
		{"same CA, AAGUID, now", ca, DefaultAAGUID, now, true},
		{"another AAGUID", ca, [16]byte{1}, now, false},
		{"another CA", otherCA, DefaultAAGUID, now, false},
		{"before it is valid", ca, DefaultAAGUID, l.cert.NotBefore.Add(-time.Second), false},
		{"after it expired", ca, DefaultAAGUID, l.cert.NotAfter.Add(time.Second), false},
	}
	for _, tc := range tests {
		if got := l.issuedFor(tc.ca, tc.aaguid, tc.at); got != tc.want {
			t.Errorf("%s: issuedFor = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestLoadOrCreateLeafErrors(t *testing.T) {
	ca, err := LoadOrCreateCA(newStore(t))
	if err != nil {
		t.Fatal(err)
	}
	errIO := errors.New("disk on fire")
	for _, store := range []*brokenStore{{getErr: errIO}, {putErr: errIO}} {
		if _, err := loadOrCreateLeaf(store, ca, DefaultAAGUID); !errors.Is(err, errIO) {
			t.Errorf("loadOrCreateLeaf on a failing store = %v, want it to wrap %v", err, errIO)
		}
	}
}
