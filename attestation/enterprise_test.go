package attestation

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"testing"

	"github.com/vauth/vauth/keystore"
)

// subjectSerial returns the serialNumber attribute of a certificate's
// subject, and its ASN.1 tag; "" when there is none.
func subjectSerial(t *testing.T, cert *x509.Certificate) (string, int) {
	t.Helper()
	var subject []attributeSET
	if rest, err := asn1.Unmarshal(cert.RawSubject, &subject); err != nil || len(rest) != 0 {
		t.Fatalf("subject: %v", err)
	}
	for _, set := range subject {
		for _, a := range set {
			if a.Type.Equal(oidSerialNumber) {
				return string(a.Value.Bytes), a.Value.Tag
			}
		}
	}
	return "", 0
}

// TestEnterprise: enterprise attestation is packed basic attestation with
// a certificate of its own that names the device by a serial number, kept
// across restarts; go-webauthn verifies it as a full basic attestation,
// and the batch certificate stays as it was.
func TestEnterprise(t *testing.T) {
	dir := t.TempDir()
	ks := openStore(t, dir)
	ca, err := LoadOrCreateCA(ks)
	if err != nil {
		t.Fatal(err)
	}
	clientDataHash := sha256.Sum256([]byte("enterprise registration"))
	attest := func(a Attester) *x509.Certificate {
		t.Helper()
		cred := newCredential(t, ks, keystore.ES256)
		authData := makeAuthData(t, cred, DefaultAAGUID, 0)
		stmt, err := a.Attest(ks, cred, authData, clientDataHash[:])
		if err != nil {
			t.Fatalf("Attest: %v", err)
		}
		if stmt.Format != FormatPacked {
			t.Errorf("format %q, want packed", stmt.Format)
		}
		checkStatementShape(t, stmt, keystore.ES256, true)
		checkChain(t, stmt, ca, authData, clientDataHash[:])
		if typ, err := verifyWebAuthn(t, stmt, authData, clientDataHash[:]); err != nil || typ != "basic_full" {
			t.Errorf("go-webauthn: %q, %v; want basic_full", typ, err)
		}
		cert, err := x509.ParseCertificate(stmt.AttStmt[stmtX5C].([][]byte)[0])
		if err != nil {
			t.Fatal(err)
		}
		return cert
	}
	enterprise := attest(Enterprise(ca, DefaultAAGUID, ks))
	batch := attest(Basic(ca, DefaultAAGUID, ks))

	serial, tag := subjectSerial(t, enterprise)
	if len(serial) != 16 || tag != asn1.TagPrintableString {
		t.Errorf("enterprise certificate serialNumber %q (tag %d), want 16 hex digits as a PrintableString", serial, tag)
	}
	if enterprise.Subject.CommonName != enterpriseCommonName {
		t.Errorf("enterprise certificate CN %q", enterprise.Subject.CommonName)
	}
	if got, ok := certAAGUID(enterprise); !ok || got != DefaultAAGUID {
		t.Errorf("enterprise certificate AAGUID %x (%v)", got, ok)
	}
	if s, _ := subjectSerial(t, batch); s != "" || bytes.Equal(batch.Raw, enterprise.Raw) {
		t.Errorf("the batch certificate names a device (%q) or is the enterprise one", s)
	}

	// The same device keeps its enterprise certificate; another store
	// (another device) gets another serial number.
	if err := ks.Close(); err != nil {
		t.Fatal(err)
	}
	ks = openStore(t, dir)
	if again := attest(Enterprise(ca, DefaultAAGUID, ks)); !bytes.Equal(again.Raw, enterprise.Raw) {
		t.Error("the enterprise certificate changed across a restart")
	}
	other := newStore(t)
	l, err := loadOrCreateLeafOf(enterpriseLeaf, other, ca, DefaultAAGUID)
	if err != nil {
		t.Fatal(err)
	}
	if s, _ := subjectSerial(t, l.cert); s == serial || s == "" {
		t.Errorf("another device's serial number %q, this one's %q", s, serial)
	}
}
