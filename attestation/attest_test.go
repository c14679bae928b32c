package attestation

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/vauth/vauth/keystore"
)

func TestAttest(t *testing.T) {
	ks := newStore(t)
	ca, err := LoadOrCreateCA(ks)
	if err != nil {
		t.Fatal(err)
	}
	clientDataHash := sha256.Sum256([]byte(`{"type":"webauthn.create","challenge":"AAAA","origin":"https://example.com"}`))
	otherHash := sha256.Sum256([]byte("another ceremony"))

	tests := []struct {
		name     string
		attester Attester
		alg      int
		wantFmt  string
		wantAlg  int  // 0: no alg in attStmt
		wantX5C  bool // a certificate chain
		wantType string
	}{
		{"none ES256", None(), keystore.ES256, FormatNone, 0, false, "none"},
		{"none EdDSA", None(), keystore.EdDSA, FormatNone, 0, false, "none"},
		{"self ES256", Self(), keystore.ES256, FormatPacked, keystore.ES256, false, "basic_surrogate"},
		{"self EdDSA", Self(), keystore.EdDSA, FormatPacked, keystore.EdDSA, false, "basic_surrogate"},
		{"basic ES256", Basic(ca, DefaultAAGUID, ks), keystore.ES256, FormatPacked, keystore.ES256, true, "basic_full"},
		{"basic EdDSA", Basic(ca, DefaultAAGUID, ks), keystore.EdDSA, FormatPacked, keystore.ES256, true, "basic_full"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cred := newCredential(t, ks, tc.alg)
			authData := makeAuthData(t, cred, DefaultAAGUID, 0)
			stmt, err := tc.attester.Attest(ks, cred, authData, clientDataHash[:])
			if err != nil {
				t.Fatalf("Attest: %v", err)
			}
			if stmt.Format != tc.wantFmt {
				t.Errorf("Format = %q, want %q", stmt.Format, tc.wantFmt)
			}
			if stmt.AttStmt == nil {
				t.Fatal("AttStmt is nil; it must encode as a map")
			}
			checkStatementShape(t, stmt, tc.wantAlg, tc.wantX5C)

			gotType, err := verifyWebAuthn(t, stmt, authData, clientDataHash[:])
			if err != nil {
				t.Fatalf("go-webauthn rejects the attestation: %v", err)
			}
			if gotType != tc.wantType {
				t.Errorf("go-webauthn attestation type = %q, want %q", gotType, tc.wantType)
			}

			if tc.wantFmt == FormatNone {
				return
			}
			// The signature covers the clientDataHash: the same statement
			// does not verify for another ceremony.
			if _, err := verifyWebAuthn(t, stmt, authData, otherHash[:]); err == nil {
				t.Error("go-webauthn accepts the statement with another clientDataHash")
			}
			if tc.wantX5C {
				checkChain(t, stmt, ca, authData, clientDataHash[:])
			}
		})
	}
}

// checkStatementShape checks the members of attStmt against WebAuthn §8.2
// (packed) or §8.7 (none).
func checkStatementShape(t *testing.T, stmt Statement, wantAlg int, wantX5C bool) {
	t.Helper()
	wantLen := 0
	if wantAlg != 0 {
		wantLen = 2
		if alg, ok := stmt.AttStmt[stmtAlg].(int); !ok || alg != wantAlg {
			t.Errorf("attStmt alg = %#v, want %d", stmt.AttStmt[stmtAlg], wantAlg)
		}
		if sig, ok := stmt.AttStmt[stmtSig].([]byte); !ok || len(sig) == 0 {
			t.Errorf("attStmt sig = %#v, want a signature", stmt.AttStmt[stmtSig])
		}
	}
	if wantX5C {
		wantLen = 3
		if x5c, ok := stmt.AttStmt[stmtX5C].([][]byte); !ok || len(x5c) != 1 {
			t.Errorf("attStmt x5c = %#v, want one certificate", stmt.AttStmt[stmtX5C])
		}
	}
	if len(stmt.AttStmt) != wantLen {
		t.Errorf("attStmt has %d members, want %d: %v", len(stmt.AttStmt), wantLen, stmt.AttStmt)
	}
}

// checkChain checks with crypto/x509 alone that the attestation certificate
// chains to the CA and that it made the signature.
func checkChain(t *testing.T, stmt Statement, ca *CA, authData, clientDataHash []byte) {
	t.Helper()
	leafCert, err := x509.ParseCertificate(stmt.AttStmt[stmtX5C].([][]byte)[0])
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca.Certificate())
	if _, err := leafCert.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		t.Errorf("attestation certificate does not chain to the CA: %v", err)
	}
	signed := append(append([]byte(nil), authData...), clientDataHash...)
	if err := leafCert.CheckSignature(x509.ECDSAWithSHA256, signed, stmt.AttStmt[stmtSig].([]byte)); err != nil {
		t.Errorf("sig is not the attestation certificate's signature over authData||clientDataHash: %v", err)
	}
}

func TestAttestErrors(t *testing.T) {
	ks := newStore(t)
	ca, err := LoadOrCreateCA(ks)
	if err != nil {
		t.Fatal(err)
	}
	cred := newCredential(t, ks, keystore.ES256)
	otherAAGUID := [16]byte{0: 1, 15: 2}
	foreign := newCredential(t, newStore(t), keystore.ES256) // ks cannot sign with it
	_, signErr := ks.Sign(foreign, []byte("x"))
	if signErr == nil {
		t.Fatal("a store signs with another store's credential")
	}
	cdh := make([]byte, 32)

	tests := []struct {
		name     string
		attester Attester
		cred     *keystore.Credential
		authData []byte
		wantErr  string
		wantIs   error
	}{
		{"self without credential", Self(), nil, makeAuthData(t, cred, DefaultAAGUID, 0), "needs a keystore and a credential", nil},
		{"self with a key the keystore lacks", Self(), foreign, makeAuthData(t, foreign, DefaultAAGUID, 0), "self attestation signature", signErr},
		{"basic for another AAGUID", Basic(ca, DefaultAAGUID, ks), cred, makeAuthData(t, cred, otherAAGUID, 0), FormatAAGUID(otherAAGUID), nil},
		{"basic without CA", Basic(nil, DefaultAAGUID, ks), cred, makeAuthData(t, cred, DefaultAAGUID, 0), "needs a CA and a store", nil},
		{"basic without store", Basic(ca, DefaultAAGUID, nil), cred, makeAuthData(t, cred, DefaultAAGUID, 0), "needs a CA and a store", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.attester.Attest(ks, tc.cred, tc.authData, cdh)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Attest error = %v, want one mentioning %q", err, tc.wantErr)
			}
			if tc.wantIs != nil && !errors.Is(err, tc.wantIs) {
				t.Errorf("Attest error = %v, want it to wrap %v", err, tc.wantIs)
			}
		})
	}
}

// TestBasicConcurrent attests from several goroutines at once: the
// attestation key is made once and every statement carries the same
// certificate.
func TestBasicConcurrent(t *testing.T) {
	ks := newStore(t)
	ca, err := LoadOrCreateCA(ks)
	if err != nil {
		t.Fatal(err)
	}
	cs := &countingStore{BlobStore: ks}
	att := Basic(ca, DefaultAAGUID, cs)
	cred := newCredential(t, ks, keystore.ES256)
	authData := makeAuthData(t, cred, DefaultAAGUID, 0)

	const n = 8
	certs := make([][]byte, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			stmt, err := att.Attest(ks, cred, authData, make([]byte, 32))
			if err == nil {
				certs[i] = stmt.AttStmt[stmtX5C].([][]byte)[0]
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("Attest %d: %v", i, errs[i])
		}
		if !bytes.Equal(certs[i], certs[0]) {
			t.Errorf("Attest %d carries another certificate", i)
		}
	}
	if got := cs.puts.Load(); got != 1 {
		t.Errorf("%d blobs written, want 1 (the attestation key, once)", got)
	}
}
