package attestation

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/vauth/vauth/keystore"
)

func TestLoadOrCreateCA(t *testing.T) {
	dir := t.TempDir()
	ks := openStore(t, dir)
	cs := &countingStore{BlobStore: ks}
	ca, err := LoadOrCreateCA(cs)
	if err != nil {
		t.Fatal(err)
	}
	if n := cs.puts.Load(); n != 1 {
		t.Errorf("creating the CA wrote %d blobs, want 1", n)
	}
	cert := ca.Certificate()
	checks := []struct {
		what string
		ok   bool
	}{
		{"version 3", cert.Version == 3},
		{"CN " + caCommonName, cert.Subject.CommonName == caCommonName},
		{"self-signed", bytes.Equal(cert.RawIssuer, cert.RawSubject) && cert.CheckSignatureFrom(cert) == nil},
		{"CA:true", cert.BasicConstraintsValid && cert.IsCA},
		{"path length 0", cert.MaxPathLen == 0 && cert.MaxPathLenZero},
		{"keyCertSign", cert.KeyUsage&x509.KeyUsageCertSign != 0},
		{"ECDSA P-256", cert.PublicKeyAlgorithm == x509.ECDSA && cert.PublicKey.(*ecdsa.PublicKey).Curve == elliptic.P256()},
		{"valid now", time.Now().After(cert.NotBefore) && time.Now().Before(cert.NotAfter)},
		{"valid for 20 years or more", cert.NotAfter.Sub(cert.NotBefore) >= 20*365*24*time.Hour},
		{"has a subject key ID", len(cert.SubjectKeyId) > 0},
	}
	for _, c := range checks {
		if !c.ok {
			t.Errorf("CA certificate: not %s", c.what)
		}
	}
	if !strings.HasPrefix(blobCA, "attestation/") {
		t.Errorf("CA blob %q is not under attestation/", blobCA)
	}
	if block, _ := pem.Decode(ca.PEM()); block == nil || block.Type != "CERTIFICATE" || !bytes.Equal(block.Bytes, cert.Raw) {
		t.Errorf("PEM() does not hold the CA certificate: %q", ca.PEM())
	}

	// After a restart (the store closed and opened again) the CA is the same
	// and nothing is written.
	if err := ks.Close(); err != nil {
		t.Fatal(err)
	}
	cs = &countingStore{BlobStore: openStore(t, dir)}
	again, err := LoadOrCreateCA(cs)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again.Certificate().Raw, cert.Raw) || !again.key.Equal(ca.key) {
		t.Error("reloaded CA differs from the one created")
	}
	if n := cs.puts.Load(); n != 0 {
		t.Errorf("reloading the CA wrote %d blobs", n)
	}
	// A new store gets a new CA.
	other, err := LoadOrCreateCA(newStore(t))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(other.Certificate().Raw, cert.Raw) {
		t.Error("two stores share one CA")
	}
}

// brokenStore fails as told.
type brokenStore struct {
	blobs  map[string][]byte
	getErr error
	putErr error
}

func (s *brokenStore) GetBlob(name string) ([]byte, error) {
	if s.getErr != nil {
		return nil, s.getErr
	}
	if b, ok := s.blobs[name]; ok {
		return b, nil
	}
	return nil, keystore.ErrNotFound
}

func (s *brokenStore) PutBlob(string, []byte) error { return s.putErr }

func TestLoadOrCreateCAErrors(t *testing.T) {
	errIO := errors.New("disk on fire")
	tests := []struct {
		name    string
		store   *brokenStore
		wantErr string
		wantIs  error
	}{
		{"read fails", &brokenStore{getErr: errIO}, "reading the CA", errIO},
		{"write fails", &brokenStore{putErr: errIO}, "storing the CA", errIO},
		// A damaged CA is reported, never silently replaced: relying
		// parties trust the old one.
		{"stored CA damaged", &brokenStore{blobs: map[string][]byte{blobCA: []byte("not PEM")}}, "stored CA", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LoadOrCreateCA(tc.store)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("LoadOrCreateCA error = %v, want one mentioning %q", err, tc.wantErr)
			}
			if tc.wantIs != nil && !errors.Is(err, tc.wantIs) {
				t.Errorf("error %v does not wrap %v", err, tc.wantIs)
			}
		})
	}
}

// userCA makes a CA certificate for key, as a user would with openssl;
// edit changes the template first.
func userCA(t *testing.T, key crypto.Signer, edit func(*x509.Certificate)) []byte {
	t.Helper()
	tmpl := &x509.Certificate{
		Subject:               pkix.Name{Organization: []string{"Example Corp"}, CommonName: "Example Attestation CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(5 * 365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	if edit != nil {
		edit(tmpl)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func pkcs8PEM(t *testing.T, key crypto.Signer) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

// sec1PEM writes an EC key as `openssl ecparam -genkey` does: an EC
// PARAMETERS block, then the SEC1 key.
func sec1PEM(t *testing.T, key *ecdsa.PrivateKey) []byte {
	t.Helper()
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	params := pem.EncodeToMemory(&pem.Block{Type: "EC PARAMETERS", Bytes: []byte{0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22}})
	return append(params, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der})...)
}

func mustECKey(t *testing.T, c elliptic.Curve) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(c, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestLoadCA(t *testing.T) {
	p256, p384, p521 := mustECKey(t, elliptic.P256()), mustECKey(t, elliptic.P384()), mustECKey(t, elliptic.P521())
	_, ed, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	p256Cert := userCA(t, p256, nil)
	damaged := bytes.Replace(p256Cert, []byte("MII"), []byte("AAA"), 1)

	tests := []struct {
		name          string
		certPEM       []byte
		keyPEM        []byte
		wantErr       string // "" for success
		wantLeafSigAl x509.SignatureAlgorithm
	}{
		{"P-256 PKCS#8", p256Cert, pkcs8PEM(t, p256), "", x509.ECDSAWithSHA256},
		{"P-384 SEC1 after EC PARAMETERS", userCA(t, p384, nil), sec1PEM(t, p384), "", x509.ECDSAWithSHA384},
		{"one bundle for both", append(pkcs8PEM(t, p256), p256Cert...), append(pkcs8PEM(t, p256), p256Cert...), "", x509.ECDSAWithSHA256},
		{"CA without key usage", userCA(t, p256, func(c *x509.Certificate) { c.KeyUsage = 0 }), pkcs8PEM(t, p256), "", x509.ECDSAWithSHA256},
		{"Ed25519 key", userCA(t, ed, nil), pkcs8PEM(t, ed), "want an ECDSA key", 0},
		{"RSA key", userCA(t, rsaKey, nil), pkcs8PEM(t, rsaKey), "want an ECDSA key", 0},
		{"P-521 key", userCA(t, p521, nil), pkcs8PEM(t, p521), "P-521", 0},
		{"key of another certificate", p256Cert, pkcs8PEM(t, p384), "does not match", 0},
		{"not a CA", userCA(t, p256, func(c *x509.Certificate) { c.IsCA = false }), pkcs8PEM(t, p256), "not a CA", 0},
		{"no basic constraints", userCA(t, p256, func(c *x509.Certificate) { c.IsCA, c.BasicConstraintsValid = false, false }), pkcs8PEM(t, p256), "not a CA", 0},
		{"no keyCertSign", userCA(t, p256, func(c *x509.Certificate) { c.KeyUsage = x509.KeyUsageDigitalSignature }), pkcs8PEM(t, p256), "keyCertSign", 0},
		{"expired", userCA(t, p256, func(c *x509.Certificate) {
			c.NotBefore, c.NotAfter = time.Now().Add(-48*time.Hour), time.Now().Add(-24*time.Hour)
		}), pkcs8PEM(t, p256), "valid only from", 0},
		{"not yet valid", userCA(t, p256, func(c *x509.Certificate) { c.NotBefore = time.Now().Add(24 * time.Hour) }), pkcs8PEM(t, p256), "valid only from", 0},
		{"no certificate", pkcs8PEM(t, p256), pkcs8PEM(t, p256), "no CERTIFICATE", 0},
		{"damaged certificate", damaged, pkcs8PEM(t, p256), "CA certificate:", 0},
		{"no key", p256Cert, p256Cert, "no PRIVATE KEY", 0},
		{"not PEM", []byte("hello"), []byte("world"), "no CERTIFICATE", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ca, err := LoadCA(tc.certPEM, tc.keyPEM)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("LoadCA error = %v, want one mentioning %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("LoadCA: %v", err)
			}
			// Basic attestation under the user's CA verifies and chains to it.
			ks := newStore(t)
			cred := newCredential(t, ks, keystore.ES256)
			authData := makeAuthData(t, cred, DefaultAAGUID, 0)
			cdh := make([]byte, 32)
			stmt, err := Basic(ca, DefaultAAGUID, ks).Attest(ks, cred, authData, cdh)
			if err != nil {
				t.Fatalf("Attest: %v", err)
			}
			if _, err := verifyWebAuthn(t, stmt, authData, cdh); err != nil {
				t.Errorf("go-webauthn rejects the attestation: %v", err)
			}
			checkChain(t, stmt, ca, authData, cdh)
			leafCert, err := x509.ParseCertificate(stmt.AttStmt[stmtX5C].([][]byte)[0])
			if err != nil {
				t.Fatal(err)
			}
			if leafCert.SignatureAlgorithm != tc.wantLeafSigAl {
				t.Errorf("attestation certificate signed with %v, want %v", leafCert.SignatureAlgorithm, tc.wantLeafSigAl)
			}
		})
	}
}
