package attestation

import (
	"bytes"
	"testing"

	"github.com/vauth/vauth/keystore"
)

// cborBytes writes a CBOR byte string header and body by hand.
func cborBytes(b []byte) []byte {
	var head []byte
	switch n := len(b); {
	case n < 24:
		head = []byte{0x40 | byte(n)}
	case n < 0x100:
		head = []byte{0x58, byte(n)}
	default:
		head = []byte{0x59, byte(n >> 8), byte(n)}
	}
	return append(head, b...)
}

// TestStatementCBOR checks the CTAP2 canonical encoding of each statement
// (CTAP 2.1 §8 "Message Encoding") against one written out by hand: keys
// sorted shortest first, then bytewise; alg as a negative integer.
func TestStatementCBOR(t *testing.T) {
	ks := newStore(t)
	ca, err := LoadOrCreateCA(ks)
	if err != nil {
		t.Fatal(err)
	}
	em := ctap2EncMode(t)
	var (
		textAlg = []byte{0x63, 'a', 'l', 'g'}
		textSig = []byte{0x63, 's', 'i', 'g'}
		textX5C = []byte{0x63, 'x', '5', 'c'}
	)
	tests := []struct {
		name     string
		attester Attester
		alg      int
		want     func(stmt Statement) []byte
	}{
		{"none", None(), keystore.ES256, func(Statement) []byte { return []byte{0xa0} }},
		{"self ES256", Self(), keystore.ES256, func(s Statement) []byte {
			return bytes.Join([][]byte{{0xa2}, textAlg, {0x26}, textSig, cborBytes(s.AttStmt[stmtSig].([]byte))}, nil)
		}},
		{"self EdDSA", Self(), keystore.EdDSA, func(s Statement) []byte {
			return bytes.Join([][]byte{{0xa2}, textAlg, {0x27}, textSig, cborBytes(s.AttStmt[stmtSig].([]byte))}, nil)
		}},
		{"basic", Basic(ca, DefaultAAGUID, ks), keystore.EdDSA, func(s Statement) []byte {
			return bytes.Join([][]byte{{0xa3}, textAlg, {0x26}, textSig, cborBytes(s.AttStmt[stmtSig].([]byte)),
				textX5C, {0x81}, cborBytes(s.AttStmt[stmtX5C].([][]byte)[0])}, nil)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cred := newCredential(t, ks, tc.alg)
			stmt, err := tc.attester.Attest(ks, cred, makeAuthData(t, cred, DefaultAAGUID, 0), make([]byte, 32))
			if err != nil {
				t.Fatal(err)
			}
			got, err := em.Marshal(stmt.AttStmt)
			if err != nil {
				t.Fatal(err)
			}
			if want := tc.want(stmt); !bytes.Equal(got, want) {
				t.Errorf("attStmt encodes as\n% x\nwant\n% x", got, want)
			}
		})
	}
}
