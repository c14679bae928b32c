package tpm

import (
	"crypto/sha256"
	"fmt"
	"os"
	"testing"

	"github.com/google/go-tpm/tpm2"

	"github.com/vauth/vauth/keystore"
)

// The store on the machine's TPM through the kernel resource manager, which
// lets one open /dev/tpmrm0 hold only three transient objects. Here it runs
// in a VM with an swtpm-backed TPM:
//
//	go test -c -o /tmp/tpm.test ./keystore/tpm/
//	../shared/tools/run-in-vm.sh --tpm /tmp/tpm.test -test.run Device -test.v
func TestDeviceStore(t *testing.T) {
	if _, err := os.Stat(DefaultDevice); err != nil {
		t.Skipf("no %s on this machine (run this test in a VM with a TPM, see its comment)", DefaultDevice)
	}
	dir := t.TempDir()
	rpIDHash := sha256.Sum256([]byte("example.com"))
	ks, err := Open(dir, Options{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	sign := func(ks *Store, c *keystore.Credential, msg string) {
		t.Helper()
		sig, err := ks.Sign(c, []byte(msg))
		if err != nil {
			t.Fatalf("Sign: %v", err)
		}
		verify(t, c.PublicKey, []byte(msg), sig)
	}
	// Each credential is made after signing with the previous ones, so that
	// creation and loading happen with the cache full.
	var creds []*keystore.Credential
	for i := range 2 * DefaultCacheSize {
		c, err := ks.Create(keystore.CreateRequest{RPID: "example.com", RPIDHash: rpIDHash, Algorithm: keystore.ES256,
			Discoverable: true, User: keystore.User{ID: []byte{byte(i)}, Name: fmt.Sprint(i)}})
		if err != nil {
			t.Fatalf("Create: %v", err)
		}
		creds = append(creds, c)
		for _, c := range creds {
			sign(ks, c, fmt.Sprint("round ", i))
		}
	}
	before := ks.Engine().CommandCounts()
	sign(ks, creds[len(creds)-1], "cached")
	if got := ks.Engine().CommandCounts().Sub(before); got.Total() != 1 || got[tpm2.TPMCCSign] != 1 {
		t.Errorf("a cached key's signature sent %v, want one TPM2_Sign", got)
	}
	if err := ks.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	ks, err = Open(dir, Options{})
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer ks.Close()
	for _, c := range creds {
		sign(ks, c, "after reopen")
	}
}

// Certification on the machine's TPM through the resource manager, whose
// three objects per connection are exactly the primary, the attestation
// key and the credential key. Run it as TestDeviceStore says.
func TestDeviceCertify(t *testing.T) {
	if _, err := os.Stat(DefaultDevice); err != nil {
		t.Skipf("no %s on this machine (run this test in a VM with a TPM, see TestDeviceStore)", DefaultDevice)
	}
	ks, err := Open(t.TempDir(), Options{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer ks.Close()
	aik, err := ks.AttestationKey()
	if err != nil {
		t.Fatalf("AttestationKey: %v", err)
	}
	for i := range 3 {
		cred := newCredential(t, ks)
		if _, err := ks.Sign(newCredential(t, ks), []byte("another key in the cache")); err != nil {
			t.Fatal(err)
		}
		qd := sha256.Sum256([]byte{byte(i)})
		certInfo, sig, pubArea, err := ks.Certify(cred, qd[:])
		if err != nil {
			t.Fatalf("Certify %d: %v", i, err)
		}
		checkCertification(t, cred, aik, qd[:], certInfo, sig, pubArea)
	}
	m, model, fw, err := ks.TPMInfo()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("TPM: manufacturer %#x, model %q, firmware %#x", m, model, fw)
}
