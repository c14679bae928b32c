package soft

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"errors"
	"strings"
	"testing"

	"github.com/vauth/vauth/internal/cose"
	"github.com/vauth/vauth/keystore"
)

// An imported key signs as the key it is, for discoverable and
// non-discoverable credentials of every importable algorithm (RSA as RS256
// or, when asked, PS256); the counter continues from the imported value,
// also across a reopen.
func TestImport(t *testing.T) {
	p256, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	edPub, edPriv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	p521, _ := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	rsaKey, err := rsa.GenerateKey(rand.Reader, DefaultRSABits)
	if err != nil {
		t.Fatal(err)
	}
	rpIDHash := sha256.Sum256([]byte("example.com"))
	for _, tc := range []struct {
		name         string
		key          crypto.PrivateKey
		pub          crypto.PublicKey
		ask, alg     int
		discoverable bool
		signCount    uint32
	}{
		{"ES256 discoverable", p256, &p256.PublicKey, 0, keystore.ES256, true, 41},
		{"ES256 non-discoverable", p256, &p256.PublicKey, keystore.ES256, keystore.ES256, false, 7},
		{"EdDSA discoverable", edPriv, edPub, 0, keystore.EdDSA, true, 0},
		{"EdDSA non-discoverable, counter 0", edPriv, edPub, 0, keystore.EdDSA, false, 0},
		{"ES384 discoverable", p384, &p384.PublicKey, 0, keystore.ES384, true, 3},
		{"ES512 non-discoverable", p521, &p521.PublicKey, 0, keystore.ES512, false, 3},
		{"RS256 non-discoverable", rsaKey, &rsaKey.PublicKey, 0, keystore.RS256, false, 9},
		{"PS256 non-discoverable, counter 0", rsaKey, &rsaKey.PublicKey, keystore.PS256, keystore.PS256, false, 0},
		{"PS256 discoverable", rsaKey, &rsaKey.PublicKey, keystore.PS256, keystore.PS256, true, 9},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			s := mustOpen(t, dir, Options{})
			req := keystore.ImportRequest{RPID: "example.com", RPIDHash: rpIDHash, PrivateKey: tc.key, Algorithm: tc.ask, Discoverable: tc.discoverable, SignCount: tc.signCount, CredProtect: 2}
			if tc.discoverable {
				req.User = keystore.User{ID: []byte("alice"), Name: "alice@example.com", DisplayName: "Alice"}
			}
			c, err := s.Import(req)
			if err != nil {
				t.Fatal(err)
			}
			if c.Algorithm != tc.alg || c.Discoverable != tc.discoverable || c.CredProtect != 2 {
				t.Errorf("imported %+v", c)
			}
			found, err := s.Lookup(rpIDHash, c.ID)
			if err != nil {
				t.Fatalf("Lookup: %v", err)
			}
			if _, err := s.Lookup(sha256.Sum256([]byte("other.example")), c.ID); !errors.Is(err, keystore.ErrNotFound) {
				t.Errorf("Lookup for another RP = %v, want ErrNotFound", err)
			}
			msg := []byte("authenticator data || client data hash")
			sig, err := s.Sign(found, msg)
			if err != nil {
				t.Fatal(err)
			}
			if err := cose.Verify(tc.alg, tc.pub, msg, sig); err != nil {
				t.Fatalf("signature of the imported key: %v", err)
			}
			if n, err := s.NextCounter(found); err != nil || n != tc.signCount+1 {
				t.Errorf("first counter = %d, %v; want %d", n, err, tc.signCount+1)
			}
			listed, err := s.Discoverable(rpIDHash)
			if err != nil || (len(listed) == 1) != tc.discoverable {
				t.Fatalf("Discoverable = %d credentials, %v", len(listed), err)
			}
			if tc.discoverable && (!bytes.Equal(listed[0].User.ID, []byte("alice")) || listed[0].RPID != "example.com") {
				t.Errorf("listed %+v", listed[0])
			}
			mustClose(t, s)
			s = mustOpen(t, dir, Options{})
			defer mustClose(t, s)
			if found, err = s.Lookup(rpIDHash, c.ID); err != nil {
				t.Fatalf("Lookup after reopen: %v", err)
			}
			if n, err := s.NextCounter(found); err != nil || n <= tc.signCount+1 {
				t.Errorf("counter after reopen = %d, %v; want more than %d", n, err, tc.signCount+1)
			}
		})
	}
}

// Importing a discoverable credential replaces the RP's credential of the
// same user, as Create does.
func TestImportReplaces(t *testing.T) {
	s := mustOpen(t, t.TempDir(), Options{})
	defer mustClose(t, s)
	old := createCred(t, s, true, "alice")
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.Import(keystore.ImportRequest{RPID: old.RPID, RPIDHash: old.RPIDHash, User: old.User, PrivateKey: key, Discoverable: true})
	if err != nil {
		t.Fatal(err)
	}
	all, err := s.All()
	if err != nil || len(all) != 1 || !bytes.Equal(all[0].ID, c.ID) {
		t.Fatalf("All = %d credentials, %v; want only the imported one", len(all), err)
	}
	if _, err := s.NextCounter(old); !errors.Is(err, keystore.ErrNotFound) {
		t.Errorf("the replaced credential's counter = %v, want ErrNotFound", err)
	}
}

// bornInside is an engine whose keys cannot come from outside, as the TPM
// engine's: it is not a keyImporter.
type bornInside struct{ e *Engine }

func (b bornInside) Name() string                                   { return "tpm" }
func (b bornInside) Algorithms() []int                              { return b.e.Algorithms() }
func (b bornInside) MaxBlobLen() int                                { return b.e.MaxBlobLen() }
func (b bornInside) Sign(alg int, blob, msg []byte) ([]byte, error) { return b.e.Sign(alg, blob, msg) }
func (b bornInside) Generate(alg int) (crypto.PublicKey, []byte, error) {
	return b.e.Generate(alg)
}

func TestImportRefused(t *testing.T) {
	p224, err := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	p256, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	soft := mustOpen(t, t.TempDir(), Options{})
	defer mustClose(t, soft)
	tpmLike := mustOpen(t, t.TempDir(), Options{Engine: bornInside{NewEngine()}})
	defer mustClose(t, tpmLike)
	hash := sha256.Sum256([]byte("example.com"))
	for _, tc := range []struct {
		name string
		s    *Store
		req  keystore.ImportRequest
		want error
		msg  string
	}{
		{"P-224", soft, keystore.ImportRequest{RPIDHash: hash, PrivateKey: p224}, keystore.ErrUnsupportedAlgorithm, "P-224"},
		{"RSA-1024", soft, keystore.ImportRequest{RPIDHash: hash, PrivateKey: rsaKey}, keystore.ErrUnsupportedAlgorithm, "1024 bits"},
		{"P-256 as ES384", soft, keystore.ImportRequest{RPIDHash: hash, PrivateKey: p256, Algorithm: keystore.ES384}, keystore.ErrUnsupportedAlgorithm, "ES384"},
		{"RSA as ES256", soft, keystore.ImportRequest{RPIDHash: hash, PrivateKey: rsaKey, Algorithm: keystore.ES256}, keystore.ErrUnsupportedAlgorithm, "ES256"},
		{"discoverable without a user", soft, keystore.ImportRequest{RPID: "example.com", RPIDHash: hash, PrivateKey: p256, Discoverable: true}, nil, "user ID"},
		{"TPM keystore", tpmLike, keystore.ImportRequest{RPIDHash: hash, PrivateKey: p256}, keystore.ErrImportUnsupported, "not supported on a TPM keystore"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.s.Import(tc.req)
			if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("Import = %v, want %v mentioning %q", err, tc.want, tc.msg)
			}
		})
	}
}
