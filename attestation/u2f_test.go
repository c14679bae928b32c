package attestation

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vauth/vauth/keystore"
)

// TestU2FCertificate: the U2F attestation certificate chains to the CA,
// names no model (no AAGUID extension), keeps the transports extension, and
// is the same after a restart.
func TestU2FCertificate(t *testing.T) {
	dir := t.TempDir()
	ks := openStore(t, dir)
	ca, u := newU2F(t, ks)
	cert := u.Certificate()
	roots := x509.NewCertPool()
	roots.AddCert(ca.Certificate())
	if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		t.Errorf("U2F certificate does not chain to the CA: %v", err)
	}
	var hasAAGUID, hasTransports bool
	for _, ext := range cert.Extensions {
		hasAAGUID = hasAAGUID || ext.Id.Equal(oidFIDOGenCeAAGUID)
		hasTransports = hasTransports || ext.Id.Equal(oidFIDOU2FTransports)
	}
	if hasAAGUID || !hasTransports {
		t.Errorf("extensions: AAGUID %v (want none), transports %v (want it)", hasAAGUID, hasTransports)
	}
	if _, ok := cert.PublicKey.(*ecdsa.PublicKey); !ok {
		t.Errorf("attestation key is a %T, want ECDSA", cert.PublicKey)
	}

	packed, err := loadOrCreateLeaf(ks, ca, DefaultAAGUID)
	if err != nil {
		t.Fatal(err)
	}
	if packed.key.PublicKey.Equal(cert.PublicKey) {
		t.Error("U2F and packed attestation share a key")
	}
	if !u.leaf.issuedFor(ca, noAAGUID, time.Now()) || u.leaf.issuedFor(ca, DefaultAAGUID, time.Now()) {
		t.Error("the U2F certificate must be issued for no AAGUID and for no other")
	}
	if packed.issuedFor(ca, noAAGUID, time.Now()) {
		t.Error("a certificate naming an AAGUID passes for the U2F one")
	}

	if err := ks.Close(); err != nil {
		t.Fatal(err)
	}
	ks = openStore(t, dir)
	_, again := newU2F(t, ks)
	if !bytes.Equal(again.Certificate().Raw, cert.Raw) {
		t.Error("the U2F certificate changed across a restart")
	}
}

// TestU2FSignRegistration checks the registration signature with the
// certificate's key over exactly 0x00 || app || challenge || kh || pubkey.
func TestU2FSignRegistration(t *testing.T) {
	ks := newStore(t)
	_, u := newU2F(t, ks)
	app := sha256.Sum256([]byte("https://example.com"))
	challenge := sha256.Sum256([]byte("client data"))
	kh := []byte("key handle")
	pub := bytes.Repeat([]byte{4}, 65)
	sig, err := u.SignRegistration(app[:], challenge[:], kh, pub)
	if err != nil {
		t.Fatal(err)
	}
	signed := slices.Concat([]byte{0}, app[:], challenge[:], kh, pub)
	if err := u.Certificate().CheckSignature(x509.ECDSAWithSHA256, signed, sig); err != nil {
		t.Errorf("registration signature: %v", err)
	}
	signed[0] = 1
	if u.Certificate().CheckSignature(x509.ECDSAWithSHA256, signed, sig) == nil {
		t.Error("the signature verifies without the reserved 0x00 byte")
	}
}

// TestFIDOU2FAttest: the fido-u2f statement of an ES256 credential passes
// go-webauthn's verification and is bound to the clientDataHash; other
// credentials and bad input are errors.
func TestFIDOU2FAttest(t *testing.T) {
	ks := newStore(t)
	_, u := newU2F(t, ks)
	cdh := sha256.Sum256([]byte("ceremony"))
	other := sha256.Sum256([]byte("another ceremony"))

	cred := newCredential(t, ks, keystore.ES256)
	authData := makeAuthData(t, cred, noAAGUID, 0)
	stmt, err := u.Attest(ks, cred, authData, cdh[:])
	if err != nil {
		t.Fatal(err)
	}
	if stmt.Format != FormatFIDOU2F || len(stmt.AttStmt) != 2 {
		t.Fatalf("statement %q with %d members, want fido-u2f with sig and x5c", stmt.Format, len(stmt.AttStmt))
	}
	if x5c, ok := stmt.AttStmt[stmtX5C].([][]byte); !ok || len(x5c) != 1 || !bytes.Equal(x5c[0], u.Certificate().Raw) {
		t.Errorf("x5c = %#v, want the U2F certificate alone", stmt.AttStmt[stmtX5C])
	}
	if _, err := verifyWebAuthn(t, stmt, authData, cdh[:]); err != nil {
		t.Errorf("go-webauthn rejects the fido-u2f statement: %v", err)
	}
	if _, err := verifyWebAuthn(t, stmt, authData, other[:]); err == nil {
		t.Error("go-webauthn accepts the statement with another clientDataHash")
	}

	eddsa := newCredential(t, ks, keystore.EdDSA)
	for _, tc := range []struct {
		name     string
		cred     *keystore.Credential
		authData []byte
		wantErr  string
	}{
		{"EdDSA credential", eddsa, makeAuthData(t, eddsa, noAAGUID, 0), "P-256"},
		{"no credential", nil, authData, "needs the credential"},
		{"short authData", cred, authData[:31], "authenticator data of 31 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := u.Attest(ks, tc.cred, tc.authData, cdh[:]); err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("Attest error = %v, want one mentioning %q", err, tc.wantErr)
			}
		})
	}
}

// TestPackedZeroAAGUID: packed basic attestation for the zero AAGUID uses
// the model-less certificate, which go-webauthn accepts.
func TestPackedZeroAAGUID(t *testing.T) {
	ks := newStore(t)
	ca, err := LoadOrCreateCA(ks)
	if err != nil {
		t.Fatal(err)
	}
	cred := newCredential(t, ks, keystore.ES256)
	authData := makeAuthData(t, cred, noAAGUID, 0)
	cdh := make([]byte, 32)
	stmt, err := Basic(ca, noAAGUID, ks).Attest(ks, cred, authData, cdh)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := verifyWebAuthn(t, stmt, authData, cdh); err != nil {
		t.Errorf("go-webauthn rejects packed attestation for the zero AAGUID: %v", err)
	}
}

func TestU2FErrors(t *testing.T) {
	ks := newStore(t)
	ca, err := LoadOrCreateCA(ks)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := U2F(nil, ks); err == nil {
		t.Error("U2F without a CA")
	}
	if _, err := U2F(ca, nil); err == nil {
		t.Error("U2F without a store")
	}
	if _, err := PublicKeyU2F(newCredential(t, ks, keystore.EdDSA).PublicKey); err == nil {
		t.Error("PublicKeyU2F of an Ed25519 key")
	}
}
