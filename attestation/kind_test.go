package attestation

import (
	"crypto/elliptic"
	"strings"
	"testing"

	"github.com/vauth/vauth/keystore"
)

func TestNew(t *testing.T) {
	userKey := mustECKey(t, elliptic.P256())
	user, err := LoadCA(userCA(t, userKey, nil), pkcs8PEM(t, userKey))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		kind    string
		ca      *CA
		noStore bool
		wantFmt string
		wantX5C bool
		wantCA  *CA // the CA the x5c chains to; nil: the store's own
		wantErr string
	}{
		{kind: "none", wantFmt: FormatNone},
		{kind: "self", wantFmt: FormatPacked},
		{kind: "packed", wantFmt: FormatPacked, wantX5C: true},
		{kind: "packed", ca: user, wantFmt: FormatPacked, wantX5C: true, wantCA: user},
		{kind: "packed", noStore: true, wantErr: "needs a store"},
		{kind: "", wantErr: "none, self, packed"},
		{kind: "Packed", wantErr: "none, self, packed"},
		{kind: "basic", wantErr: "none, self, packed"},
		{kind: "fido-u2f", wantErr: "none, self, packed"},
		{kind: "none ", wantErr: "none, self, packed"},
	}
	for _, tc := range tests {
		name := tc.kind
		if tc.ca != nil {
			name += " with user CA"
		}
		t.Run(name, func(t *testing.T) {
			ks := newStore(t)
			var store BlobStore = ks
			if tc.noStore {
				store = nil
			}
			att, err := New(tc.kind, DefaultAAGUID, store, tc.ca)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("New(%q) error = %v, want one mentioning %q", tc.kind, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("New(%q): %v", tc.kind, err)
			}
			if tc.wantX5C {
				// The attestation key is ready before the first registration.
				if _, err := ks.GetBlob(leafBlobName(DefaultAAGUID)); err != nil {
					t.Errorf("New(%q) did not prepare the attestation key: %v", tc.kind, err)
				}
			}
			cred := newCredential(t, ks, keystore.ES256)
			authData := makeAuthData(t, cred, DefaultAAGUID, 0)
			cdh := make([]byte, 32)
			stmt, err := att.Attest(ks, cred, authData, cdh)
			if err != nil {
				t.Fatalf("Attest: %v", err)
			}
			if stmt.Format != tc.wantFmt {
				t.Errorf("Format = %q, want %q", stmt.Format, tc.wantFmt)
			}
			if _, has := stmt.AttStmt[stmtX5C]; has != tc.wantX5C {
				t.Errorf("x5c present = %v, want %v", has, tc.wantX5C)
			}
			if _, err := verifyWebAuthn(t, stmt, authData, cdh); err != nil {
				t.Errorf("go-webauthn rejects the attestation: %v", err)
			}
			if tc.wantX5C {
				ca := tc.wantCA
				if ca == nil {
					if ca, err = LoadOrCreateCA(ks); err != nil {
						t.Fatal(err)
					}
				}
				checkChain(t, stmt, ca, authData, cdh)
			}
		})
	}
}

func TestKinds(t *testing.T) {
	for _, kind := range Kinds() {
		var store BlobStore = newStore(t)
		if kind == KindTPM {
			store = newTPMStore(t) // tpm attestation needs a TPM keystore
		}
		if _, err := New(kind, DefaultAAGUID, store, nil); err != nil {
			t.Errorf("New(%q) from Kinds(): %v", kind, err)
		}
	}
}
