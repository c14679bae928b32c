package tpm

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"testing"

	"github.com/google/go-tpm/tpm2"

	"github.com/vauth/vauth/keystore"
	"github.com/vauth/vauth/keystore/tpm/tpmtest"
)

func TestSealerRoundTrip(t *testing.T) {
	tpm := tpmtest.Simulator(t)
	e := openTestEngine(t, tpm, 0)
	s := e.Sealer()
	for _, n := range []int{1, 32, maxSealedSize} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			secret := bytes.Repeat([]byte{byte(n)}, n)
			blob, err := s.Seal(secret)
			if err != nil {
				t.Fatalf("Seal: %v", err)
			}
			if n >= 16 && bytes.Contains(blob, secret) {
				t.Error("sealed blob contains the secret")
			}
			// A later engine on the same TPM unseals it.
			e2 := openTestEngine(t, tpm, 0)
			got, err := e2.Sealer().Unseal(blob)
			if err != nil {
				t.Fatalf("Unseal: %v", err)
			}
			if !bytes.Equal(got, secret) {
				t.Fatalf("Unseal = %x, want %x", got, secret)
			}
			if err := e2.Close(); err != nil {
				t.Fatal(err)
			}
		})
	}
	for _, n := range []int{0, maxSealedSize + 1} {
		if _, err := s.Seal(make([]byte, n)); err == nil {
			t.Errorf("Seal of %d bytes succeeded", n)
		}
	}
}

// The secret never crosses the transport in clear: parameter encryption
// with a session salted by the primary key.
func TestSealerEncryptsOnTheWire(t *testing.T) {
	tpm := tpmtest.Simulator(t)
	rec := &recordingTPM{next: tpm}
	e := openTestEngine(t, rec, 0)
	secret := []byte("0123456789abcdef-master-key-0123")
	blob, err := e.Sealer().Seal(secret)
	if err != nil {
		t.Fatalf("Seal: %v", err)
	}
	got, err := e.Sealer().Unseal(blob)
	if err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("Unseal = %q, %v", got, err)
	}
	if bytes.Contains(rec.traffic.Bytes(), secret) {
		t.Fatal("the secret crossed the transport in clear")
	}
}

// recordingTPM keeps every command and response.
type recordingTPM struct {
	next    interface{ Send([]byte) ([]byte, error) }
	traffic bytes.Buffer
}

func (r *recordingTPM) Send(cmd []byte) ([]byte, error) {
	r.traffic.Write(cmd)
	rsp, err := r.next.Send(cmd)
	r.traffic.Write(rsp)
	return rsp, err
}

// Unseal needs an object slot; with the key cache full it evicts a key.
func TestSealerWithFullCache(t *testing.T) {
	tpm := tpmtest.Simulator(t)
	e := openTestEngine(t, tpm, 2)
	blob, err := e.Sealer().Seal([]byte("secret"))
	if err != nil {
		t.Fatalf("Seal: %v", err)
	}
	for range 2 {
		_, kb, err := e.Generate(keystore.ES256)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.Sign(keystore.ES256, kb, []byte("m")); err != nil {
			t.Fatal(err)
		}
	}
	before := e.CommandCounts()
	if got, err := e.Sealer().Unseal(blob); err != nil || string(got) != "secret" {
		t.Fatalf("Unseal = %q, %v", got, err)
	}
	want := CommandCounts{
		tpm2.TPMCCFlushContext:     2, // a cached key, then the sealed object
		tpm2.TPMCCLoad:             1,
		tpm2.TPMCCStartAuthSession: 1,
		tpm2.TPMCCUnseal:           1,
	}
	if got := e.CommandCounts().Sub(before); !maps.Equal(got, want) {
		t.Errorf("Unseal sent %v, want %v", got, want)
	}
	// Seal too needs a slot (TPM2_Create builds the object in one).
	for range 2 {
		_, kb, err := e.Generate(keystore.ES256)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.Sign(keystore.ES256, kb, []byte("m")); err != nil {
			t.Fatal(err)
		}
	}
	blob, err = e.Sealer().Seal([]byte("another"))
	if err != nil {
		t.Fatalf("Seal with a full cache: %v", err)
	}
	if got, err := e.Sealer().Unseal(blob); err != nil || string(got) != "another" {
		t.Fatalf("Unseal = %q, %v", got, err)
	}
}

func TestSealerBadBlob(t *testing.T) {
	e := openTestEngine(t, tpmtest.Simulator(t), 0)
	blob, err := e.Sealer().Seal([]byte("secret"))
	if err != nil {
		t.Fatalf("Seal: %v", err)
	}
	flip := func(i int) []byte {
		b := append([]byte(nil), blob...)
		b[i] ^= 1
		return b
	}
	cases := []struct {
		name string
		blob []byte
	}{
		{"empty", nil},
		{"unknown version", flip(0)},
		{"truncated", blob[:len(blob)-1]},
		{"trailing byte", append(append([]byte(nil), blob...), 0)},
		{"private area tampered", flip(20)},
		{"unique tampered", flip(len(blob) - 1)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got, err := e.Sealer().Unseal(c.blob); err == nil {
				t.Fatalf("Unseal = %q, want an error", got)
			}
		})
	}
}

// A blob sealed on one TPM does not unseal on another (a fresh simulator has
// new seeds), nor does a credential key blob load there.
func TestSealerOtherTPM(t *testing.T) {
	tpm1 := tpmtest.Simulator(t)
	e1 := openTestEngine(t, tpm1, 0)
	sealed, err := e1.Sealer().Seal([]byte("secret"))
	if err != nil {
		t.Fatalf("Seal: %v", err)
	}
	_, key, err := e1.Generate(keystore.ES256)
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	if err := e1.Close(); err != nil {
		t.Fatal(err)
	}
	if err := tpm1.Close(); err != nil {
		t.Fatal(err)
	}

	e2 := openTestEngine(t, tpmtest.Simulator(t), 0)
	got, err := e2.Sealer().Unseal(sealed)
	if !errors.Is(err, tpm2.TPMRCIntegrity) {
		t.Errorf("Unseal on another TPM = %q, %v; want TPM_RC_INTEGRITY", got, err)
	}
	t.Log(err)
	if _, err := e2.Sign(keystore.ES256, key, []byte("m")); !errors.Is(err, tpm2.TPMRCIntegrity) {
		t.Errorf("Sign on another TPM: %v; want TPM_RC_INTEGRITY", err)
	}
}
