package tpm

import (
	"crypto/sha256"
	"errors"
	"slices"
	"testing"

	"github.com/google/go-tpm/tpm2"

	"github.com/vauth/vauth/internal/cose"
	"github.com/vauth/vauth/keystore"
	"github.com/vauth/vauth/keystore/tpm/tpmtest"
)

// offeredAlgorithms keeps vauth's order and needs the key's object type,
// its curve or RSA size, the scheme and the hash, each.
func TestOfferedAlgorithms(t *testing.T) {
	all := []tpm2.TPMAlgID{tpm2.TPMAlgRSA, tpm2.TPMAlgECC, tpm2.TPMAlgSHA256, tpm2.TPMAlgSHA384, tpm2.TPMAlgSHA512,
		tpm2.TPMAlgRSASSA, tpm2.TPMAlgRSAPSS, tpm2.TPMAlgECDSA}
	curves := []tpm2.TPMECCCurve{tpm2.TPMECCNistP256, tpm2.TPMECCNistP384, tpm2.TPMECCNistP521}
	without := func(id tpm2.TPMAlgID) []tpm2.TPMAlgID {
		return slices.DeleteFunc(slices.Clone(all), func(a tpm2.TPMAlgID) bool { return a == id })
	}
	const es256, es384, es512, rs256, ps256 = keystore.ES256, keystore.ES384, keystore.ES512, keystore.RS256, keystore.PS256
	for _, tc := range []struct {
		name string
		caps capabilities
		want []int
	}{
		{"everything", capabilities{all, curves, true}, []int{es256, es384, es512, rs256, ps256}},
		{"curves in another order", capabilities{all, []tpm2.TPMECCCurve{tpm2.TPMECCNistP521, tpm2.TPMECCNistP256}, true}, []int{es256, es512, rs256, ps256}},
		{"no P-521 (most hardware)", capabilities{all, curves[:2], true}, []int{es256, es384, rs256, ps256}},
		{"no SHA-384", capabilities{without(tpm2.TPMAlgSHA384), curves, true}, []int{es256, es512, rs256, ps256}},
		{"no SHA-512", capabilities{without(tpm2.TPMAlgSHA512), curves, true}, []int{es256, es384, rs256, ps256}},
		{"no RSAPSS", capabilities{without(tpm2.TPMAlgRSAPSS), curves, true}, []int{es256, es384, es512, rs256}},
		{"no RSASSA", capabilities{without(tpm2.TPMAlgRSASSA), curves, true}, []int{es256, es384, es512, ps256}},
		{"no RSA", capabilities{without(tpm2.TPMAlgRSA), curves, true}, []int{es256, es384, es512}},
		{"RSA but not 2048 bits", capabilities{all, curves, false}, []int{es256, es384, es512}},
		{"no ECC", capabilities{without(tpm2.TPMAlgECC), curves, true}, []int{rs256, ps256}},
		{"no ECDSA", capabilities{without(tpm2.TPMAlgECDSA), curves, true}, []int{rs256, ps256}},
		{"nothing", capabilities{}, nil},
	} {
		if got := offeredAlgorithms(tc.caps); !slices.Equal(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

// The capabilities of the simulator and of swtpm, read from the TPM, and
// what the store offers once the RSA check has run: both offer everything,
// although Microsoft's reference TPM keeps RSA keys in CRT form, twice as
// long as swtpm's. A store that kept the check's old verdict on such keys
// checks again.
func TestTPMAlgorithms(t *testing.T) {
	every := []int{keystore.ES256, keystore.ES384, keystore.ES512, keystore.RS256, keystore.PS256}
	for _, tc := range []struct {
		name       string
		opts       func(t *testing.T) Options
		wantEngine []int
		wantCheck  byte
		wantStore  []int
	}{
		{"simulator", func(t *testing.T) Options { return Options{TPM: tpmtest.Simulator(t)} }, every, rsaUsable, every},
		{"swtpm", func(t *testing.T) Options { return Options{Device: tpmtest.StartSwtpm(t, t.TempDir()).Device} }, every, rsaUsable, every},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := tc.opts(t)
			e, err := OpenEngine(opts)
			if err != nil {
				t.Fatal(err)
			}
			if got := e.Algorithms(); !slices.Equal(got, tc.wantEngine) {
				t.Errorf("engine offers %v, want %v", got, tc.wantEngine)
			}
			dir := t.TempDir()
			ks, err := OpenWithEngine(dir, e, opts.Soft)
			if err != nil {
				t.Fatal(err)
			}
			if got := ks.Algorithms(); !slices.Equal(got, tc.wantStore) {
				t.Errorf("store offers %v, want %v", got, tc.wantStore)
			}
			if got, err := ks.GetBlob(blobRSACheck); err != nil || !slices.Equal(got, []byte{tc.wantCheck}) {
				t.Errorf("RSA check blob %q, %v; want %q", got, err, tc.wantCheck)
			}
			for _, alg := range every {
				_, err := ks.Create(keystore.CreateRequest{RPIDHash: sha256.Sum256([]byte("example.com")), Algorithm: alg})
				if want := slices.Contains(tc.wantStore, alg); (err == nil) != want || !want && !errors.Is(err, keystore.ErrUnsupportedAlgorithm) {
					t.Errorf("Create(%s) = %v, want it to succeed: %t", keystore.AlgorithmName(alg), err, want)
				}
			}
			// Reopened, the store trusts the check it kept: no TPM2_Create;
			// unless it kept the old verdict on CRT-form keys.
			reopen := func(kept byte, wantCreates int) {
				t.Helper()
				if err := ks.PutBlob(blobRSACheck, []byte{kept}); err != nil {
					t.Fatal(err)
				}
				if err := ks.Close(); err != nil {
					t.Fatal(err)
				}
				e, err := OpenEngine(opts)
				if err != nil {
					t.Fatal(err)
				}
				before := e.CommandCounts()
				if ks, err = OpenWithEngine(dir, e, opts.Soft); err != nil {
					t.Fatal(err)
				}
				d := e.CommandCounts().Sub(before)
				creates := d[tpm2.TPMCCCreate] + d[tpm2.TPMCCCreateLoaded]
				got, err := ks.GetBlob(blobRSACheck)
				if creates != wantCreates || !slices.Equal(ks.Algorithms(), tc.wantStore) || err != nil || !slices.Equal(got, []byte{tc.wantCheck}) {
					t.Errorf("reopened with check %q kept: %d key creations, offers %v, check %q (%v); want %d, %v, %q",
						kept, creates, ks.Algorithms(), got, err, wantCreates, tc.wantStore, tc.wantCheck)
				}
			}
			reopen(tc.wantCheck, 0)
			reopen(rsaOnePrimeOnly, 1)
			if err := ks.Close(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// Every algorithm swtpm and the simulator offer makes keys whose
// signatures verify as WebAuthn wants them (PS256 with a salt as long as
// the hash), and whose blobs stay within their bound.
func TestSignEveryAlgorithm(t *testing.T) {
	t.Run("swtpm", func(t *testing.T) { signEveryAlgorithm(t, Options{Device: tpmtest.StartSwtpm(t, t.TempDir()).Device}) })
	t.Run("simulator", func(t *testing.T) { signEveryAlgorithm(t, Options{TPM: tpmtest.Simulator(t)}) })
}

func signEveryAlgorithm(t *testing.T, opts Options) {
	ks, err := Open(t.TempDir(), opts)
	if err != nil {
		t.Fatal(err)
	}
	defer ks.Close()
	for _, alg := range ks.Algorithms() {
		name := keystore.AlgorithmName(alg)
		pub, blob, err := ks.engine.Generate(alg)
		if err != nil {
			t.Fatalf("%s: Generate: %v", name, err)
		}
		if k := signAlgorithms[alg].key; len(blob) > k.maxBlobLen() || blob[0] != k.version {
			t.Errorf("%s: blob of %d bytes, version %d; want at most %d, version %d", name, len(blob), blob[0], k.maxBlobLen(), k.version)
		}
		msg := []byte("authenticatorData || clientDataHash")
		sig, err := ks.engine.Sign(alg, blob, msg)
		if err != nil {
			t.Fatalf("%s: Sign: %v", name, err)
		}
		if err := cose.Verify(alg, pub, msg, sig); err != nil {
			t.Errorf("%s: signature: %v", name, err)
		}
		if err := cose.Verify(alg, pub, []byte("another message"), sig); err == nil {
			t.Errorf("%s: the signature verifies over another message", name)
		}
	}
}
