package tpm

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"maps"
	"testing"

	"github.com/google/go-tpm/tpm2"

	"github.com/vauth/vauth/keystore"
	"github.com/vauth/vauth/keystore/soft"
	"github.com/vauth/vauth/keystore/tpm/tpmtest"
)

// credRandoms returns a credential's CredRandom without and with user
// verification.
func credRandoms(t *testing.T, ks keystore.Keystore, c *keystore.Credential) (withoutUV, withUV []byte) {
	t.Helper()
	var err error
	if withoutUV, err = ks.CredRandom(c, false); err != nil {
		t.Fatalf("CredRandom(uv false): %v", err)
	}
	if withUV, err = ks.CredRandom(c, true); err != nil {
		t.Fatalf("CredRandom(uv true): %v", err)
	}
	if len(withoutUV) != keystore.CredRandomLength || bytes.Equal(withoutUV, withUV) {
		t.Fatalf("CredRandom = %x and %x, want two different %d-byte values", withoutUV, withUV, keystore.CredRandomLength)
	}
	return withoutUV, withUV
}

// TestCredRandomInTPM: CredRandom is a TPM2_HMAC with a keyedhash key that
// the TPM made once for the store (TPM2_CreateLoaded on first use), that
// stays loaded, that the store keeps across restarts, and that Reset
// replaces.
func TestCredRandomInTPM(t *testing.T) {
	tpm := tpmtest.Simulator(t)
	dir := t.TempDir()
	ks, err := Open(dir, Options{TPM: tpm})
	if err != nil {
		t.Fatal(err)
	}
	rpIDHash := sha256.Sum256([]byte("example.com"))
	var creds []*keystore.Credential
	for _, discoverable := range []bool{false, true} {
		c, err := ks.Create(keystore.CreateRequest{RPID: "example.com", RPIDHash: rpIDHash, Algorithm: keystore.ES256,
			Discoverable: discoverable, User: keystore.User{ID: []byte("u")}})
		if err != nil {
			t.Fatal(err)
		}
		creds = append(creds, c)
	}
	e := ks.Engine()
	before := e.CommandCounts()
	first, firstUV := credRandoms(t, ks, creds[0])
	got := e.CommandCounts().Sub(before)
	if got[tpm2.TPMCCCreateLoaded] != 1 || got[tpm2.TPMCCHMAC] != 2 || got[tpm2.TPMCCStartAuthSession] != 2 {
		t.Errorf("the first two CredRandoms sent %v, want the key made (TPM2_CreateLoaded) and two TPM2_HMAC in sessions", got)
	}
	before = e.CommandCounts()
	second, _ := credRandoms(t, ks, creds[1])
	if got, want := e.CommandCounts().Sub(before), (CommandCounts{tpm2.TPMCCHMAC: 2, tpm2.TPMCCStartAuthSession: 2}); !maps.Equal(got, want) {
		t.Errorf("two more CredRandoms sent %v, want %v", got, want)
	}
	if bytes.Equal(first, second) {
		t.Error("two credentials have the same CredRandom")
	}
	// Signing with a credential key does not evict the hmac-secret key.
	for _, c := range creds {
		if _, err := ks.Sign(c, []byte("m")); err != nil {
			t.Fatal(err)
		}
	}
	before = e.CommandCounts()
	if again, _ := credRandoms(t, ks, creds[0]); !bytes.Equal(again, first) {
		t.Error("CredRandom changed between calls")
	}
	if got := e.CommandCounts().Sub(before); got[tpm2.TPMCCLoad] != 0 {
		t.Errorf("CredRandom after signatures sent %v: the hmac-secret key was evicted", got)
	}

	if err := ks.Close(); err != nil {
		t.Fatal(err)
	}
	if ks, err = Open(dir, Options{TPM: tpm}); err != nil {
		t.Fatal(err)
	}
	defer ks.Close()
	before = ks.Engine().CommandCounts()
	again, againUV := credRandoms(t, ks, creds[0])
	if !bytes.Equal(again, first) || !bytes.Equal(againUV, firstUV) {
		t.Error("CredRandom changed across a restart")
	}
	if got := ks.Engine().CommandCounts().Sub(before); got[tpm2.TPMCCLoad] != 1 || got[tpm2.TPMCCCreateLoaded] != 0 {
		t.Errorf("CredRandom after a restart sent %v, want the stored key loaded once", got)
	}

	if err := ks.Reset(); err != nil {
		t.Fatal(err)
	}
	if h := transientHandles(t, tpm); len(h) != 1 {
		t.Errorf("after Reset, %d transient objects loaded, want only the primary (the old keys flushed)", len(h))
	}
	if _, err := ks.CredRandom(creds[0], false); err == nil {
		t.Error("CredRandom of a credential from before Reset succeeded")
	}
	c, err := ks.Create(keystore.CreateRequest{RPIDHash: rpIDHash, Algorithm: keystore.ES256})
	if err != nil {
		t.Fatal(err)
	}
	before = ks.Engine().CommandCounts()
	credRandoms(t, ks, c)
	if got := ks.Engine().CommandCounts().Sub(before); got[tpm2.TPMCCCreateLoaded] != 1 {
		t.Errorf("the first CredRandom after Reset sent %v, want a new key made", got)
	}
}

// TestCredRandomOtherTPM: a copy of the store on another TPM (a fresh
// swtpm) does not open, and its hmac-secret key blob, which the store's
// blobs hold, does not load there: nothing outside the first TPM can
// reproduce the CredRandom values.
func TestCredRandomOtherTPM(t *testing.T) {
	dir := t.TempDir()
	ks, err := Open(dir, Options{TPM: tpmtest.Simulator(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer ks.Close()
	c, err := ks.Create(keystore.CreateRequest{RPIDHash: sha256.Sum256([]byte("example.com")), Algorithm: keystore.ES256})
	if err != nil {
		t.Fatal(err)
	}
	credRandoms(t, ks, c)
	keyBlob, err := ks.GetBlob(soft.BlobHMACKey)
	if err != nil {
		t.Fatalf("the store keeps no hmac-secret key: %v", err)
	}

	other := tpmtest.StartSwtpm(t, t.TempDir())
	if copied, err := Open(copyDir(t, dir), Options{Device: other.Device}); err == nil {
		copied.Close()
		t.Fatal("a copy of the store opened on another TPM")
	}
	e := openSwtpmEngine(t, other)
	if out, err := e.HMAC(keyBlob, []byte("vauth CredRandom v1")); !errors.Is(err, tpm2.TPMRCIntegrity) {
		t.Errorf("HMAC with the store's key on another TPM = %x, %v; want TPM_RC_INTEGRITY", out, err)
	}
	for _, bad := range [][]byte{nil, keyBlob[:len(keyBlob)-1], append(bytes.Clone(keyBlob), 0), {0x48}} {
		if _, err := e.HMAC(bad, []byte("m")); err == nil {
			t.Errorf("HMAC with a malformed key blob of %d bytes succeeded", len(bad))
		}
	}
	if _, err := e.HMAC(keyBlob, make([]byte, maxHMACMessage+1)); err == nil {
		t.Error("HMAC of more than MAX_DIGEST_BUFFER succeeded")
	}
}

// BenchmarkCredRandom measures a CredRandom in the steady state (the
// hmac-secret key loaded) on the simulator, and reports the TPM commands
// each sends: a TPM2_StartAuthSession for the encrypting session and the
// TPM2_HMAC.
func BenchmarkCredRandom(b *testing.B) {
	ks, err := Open(b.TempDir(), Options{TPM: tpmtest.Simulator(b)})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = ks.Close() })
	c, err := ks.Create(keystore.CreateRequest{RPIDHash: sha256.Sum256([]byte("example.com")), Algorithm: keystore.ES256})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := ks.CredRandom(c, true); err != nil {
		b.Fatal(err)
	}
	before := ks.Engine().CommandCounts()
	for b.Loop() {
		if _, err := ks.CredRandom(c, true); err != nil {
			b.Fatal(err)
		}
	}
	d := ks.Engine().CommandCounts().Sub(before)
	b.ReportMetric(float64(d.Total())/float64(b.N), "tpmcmds/op")
	b.ReportMetric(float64(d[tpm2.TPMCCHMAC])/float64(b.N), "TPM2_HMAC/op")
}
