package tpm

import (
	"crypto/sha256"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-tpm/tpm2"

	"github.com/vauth/vauth/keystore"
	"github.com/vauth/vauth/keystore/tpm/tpmtest"
)

// copyDir copies the regular files of src into a new directory.
func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	if err := os.Chmod(dst, 0o700); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, ent := range entries {
		if !ent.Type().IsRegular() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(src, ent.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, ent.Name()), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// The store on a real swtpm: create and sign, close, restart swtpm with the
// same state, reopen and sign again; a copy of the store is useless on
// another TPM.
func TestSwtpmStore(t *testing.T) {
	state, dir := t.TempDir(), t.TempDir()
	s := tpmtest.StartSwtpm(t, state)
	ks, err := Open(dir, Options{Device: s.Device})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if ks.Backend() != "tpm" {
		t.Errorf("Backend() = %q, want tpm", ks.Backend())
	}
	rpIDHash := sha256.Sum256([]byte("example.com"))
	if _, err := ks.Create(keystore.CreateRequest{RPID: "example.com", RPIDHash: rpIDHash, Algorithm: keystore.EdDSA}); !errors.Is(err, keystore.ErrUnsupportedAlgorithm) {
		t.Errorf("Create(EdDSA) = %v, want ErrUnsupportedAlgorithm", err)
	}
	requests := []keystore.CreateRequest{
		{RPID: "example.com", RPIDHash: rpIDHash, Algorithm: keystore.ES256, Discoverable: true,
			User: keystore.User{ID: []byte{1, 2, 3}, Name: "alice", DisplayName: "Alice"}},
		{RPID: "example.com", RPIDHash: rpIDHash, Algorithm: keystore.ES256},
	}
	var creds []*keystore.Credential
	counters := map[string]uint32{}
	for _, req := range requests {
		c, err := ks.Create(req)
		if err != nil {
			t.Fatalf("Create: %v", err)
		}
		sig, err := ks.Sign(c, []byte("before restart"))
		if err != nil {
			t.Fatalf("Sign: %v", err)
		}
		verify(t, c.PublicKey, []byte("before restart"), sig)
		if counters[string(c.ID)], err = ks.NextCounter(c); err != nil {
			t.Fatalf("NextCounter: %v", err)
		}
		creds = append(creds, c)
	}
	if err := ks.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	s.Stop()

	s = tpmtest.StartSwtpm(t, state)
	ks, err = Open(dir, Options{Device: s.Device})
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer ks.Close()
	for _, want := range creds {
		c, err := ks.Lookup(rpIDHash, want.ID)
		if err != nil {
			t.Fatalf("Lookup after restart: %v", err)
		}
		before := ks.Engine().CommandCounts()
		for _, msg := range []string{"after restart", "again"} {
			sig, err := ks.Sign(c, []byte(msg))
			if err != nil {
				t.Fatalf("Sign after restart: %v", err)
			}
			verify(t, want.PublicKey, []byte(msg), sig)
		}
		if got := ks.Engine().CommandCounts().Sub(before); got[tpm2.TPMCCSign] != 2 || got[tpm2.TPMCCLoad] != 1 {
			t.Errorf("two signatures sent %v, want one Load and two Sign", got)
		}
		if n, err := ks.NextCounter(c); err != nil || n <= counters[string(c.ID)] {
			t.Errorf("NextCounter after restart = %d, %v; want more than %d", n, err, counters[string(c.ID)])
		}
	}

	// The same files, another TPM: the master key does not unseal.
	other := tpmtest.StartSwtpm(t, t.TempDir())
	copied := copyDir(t, dir)
	if ks2, err := Open(copied, Options{Device: other.Device}); !errors.Is(err, tpm2.TPMRCIntegrity) {
		if err == nil {
			_ = ks2.Close()
		}
		t.Fatalf("Open of a copied store on another TPM = %v, want TPM_RC_INTEGRITY", err)
	} else {
		t.Log(err)
	}
}
