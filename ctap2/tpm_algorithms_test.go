package ctap2

import (
	"context"
	"crypto/sha256"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/vauth/vauth/attestation"
	"github.com/vauth/vauth/hid"
	"github.com/vauth/vauth/keystore"
	"github.com/vauth/vauth/keystore/tpm"
	"github.com/vauth/vauth/keystore/tpm/tpmtest"
)

// swtpmAlgorithms are the algorithms swtpm makes keys for.
var swtpmAlgorithms = []int{keystore.ES256, keystore.ES384, keystore.ES512, keystore.RS256, keystore.PS256}

// newTPMDevice is a test device on a TPM store on swtpm, with tpm
// attestation.
func newTPMDevice(t *testing.T, modify ...func(*Config)) *testDevice {
	t.Helper()
	ks, err := tpm.Open(t.TempDir(), tpm.Options{Device: tpmtest.StartSwtpm(t, t.TempDir()).Device})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ks.Close() })
	ca, err := attestation.LoadOrCreateCA(ks)
	if err != nil {
		t.Fatal(err)
	}
	useTPM := func(c *Config) { c.Keystore, c.Attester = ks, attestation.TPM(ca, testAAGUID, ks) }
	d := newTestDevice(t, append([]func(*Config){useTPM}, modify...)...)
	d.store = ks.Store
	return d
}

// TestTPMEveryAlgorithm registers a credential of each algorithm swtpm
// makes, of both kinds, with tpm attestation, and asserts with it; getInfo
// offers exactly those (CTAP 2.1 §6.4 algorithms).
func TestTPMEveryAlgorithm(t *testing.T) {
	d := newTPMDevice(t)
	var offered []algorithmDescriptor
	mustUnmarshal(t, d.mustGetInfo()[getInfoAlgorithms], &offered)
	var algs []int
	for _, a := range offered {
		algs = append(algs, a.Alg)
	}
	if !slices.Equal(algs, swtpmAlgorithms) {
		t.Errorf("getInfo algorithms %v, want %v", algs, swtpmAlgorithms)
	}
	for _, alg := range swtpmAlgorithms {
		for _, rk := range []bool{false, true} {
			name := fmt.Sprintf("%s/rk=%t", keystore.AlgorithmName(alg), rk)
			reg := d.register(withAlgorithms(makeCredentialParams("example.com", []byte(name), "alice", rk), alg))
			if reg.fmt != attestation.FormatTPM || reg.authData.alg != alg {
				t.Errorf("%s: fmt %q, credential alg %d", name, reg.fmt, reg.authData.alg)
			}
			status, resp := d.call(CmdGetAssertion, getAssertionParams("example.com", reg.authData.credentialID))
			if status != CTAP2OK {
				t.Fatalf("%s: getAssertion: %v", name, status)
			}
			verifyAlg(t, alg, reg.authData.publicKey, decodeAssertion(t, resp))
		}
	}
}

// TestTPMLongestCredentialIDsFit: on swtpm, a non-discoverable ES256
// credential with the longest credBlob has the longest ID (its sealed key
// blob: the TPM-wrapped private area and the public point); the longer
// P-384, P-521 and RSA blobs are kept in the store behind short IDs.
// getInfo reports it as maxCredentialIdLength, and
// maxCredentialCountInList such IDs fit a getAssertion in maxMsgSize.
func TestTPMLongestCredentialIDsFit(t *testing.T) {
	for _, tc := range []struct {
		maxMsg, wantCount int
	}{{DefaultMaxMsgSize, DefaultMaxCredentialCountInList}, {1200, 2}} {
		d := newTPMDevice(t, func(c *Config) { c.MaxMsgSize = tc.maxMsg })
		maxID, count := d.idLimits()
		if maxID != d.store.MaxCredentialIDLength() || count != tc.wantCount {
			t.Errorf("maxMsgSize %d: maxCredentialIdLength %d (store %d), maxCredentialCountInList %d; want %d",
				tc.maxMsg, maxID, d.store.MaxCredentialIDLength(), count, tc.wantCount)
		}
		for _, alg := range []int{keystore.ES384, keystore.ES512, keystore.RS256} {
			c, err := d.store.Create(keystore.CreateRequest{RPIDHash: sha256.Sum256([]byte("example.com")), Algorithm: alg,
				CredBlob: make([]byte, keystore.MaxCredBlobLength)})
			if err != nil || len(c.ID) >= maxID {
				t.Fatalf("%s credential ID of %d bytes, %v; want a short one", keystore.AlgorithmName(alg), len(c.ID), err)
			}
		}
		d.checkFullAllowList(tc.maxMsg, maxID, count, keystore.ES256)
	}
}

// TestTPMRSAKeyGenerationKeepalive: while swtpm makes an RSA key (a prime
// search, tenths of a second) for makeCredential over CTAPHID, the device
// sends KEEPALIVE (processing) (CTAP 2.1 §11.2.9.2.1).
func TestTPMRSAKeyGenerationKeepalive(t *testing.T) {
	d := newTPMDevice(t)
	c := serveHID(t, d.a, hid.WithKeepaliveInterval(time.Millisecond))
	processing := 0
	params := withAlgorithms(makeCredentialParams("example.com", []byte("u"), "u", false), keystore.RS256)
	start := time.Now()
	resp, err := c.CBOR(context.Background(), append([]byte{byte(CmdMakeCredential)}, encode(t, params)...), func(s byte) {
		if s == hid.StatusProcessing {
			processing++
		}
	})
	if err != nil || len(resp) == 0 || Status(resp[0]) != CTAP2OK {
		t.Fatalf("makeCredential RS256: %x, %v", resp, err)
	}
	t.Logf("makeCredential RS256 on swtpm: %v, %d KEEPALIVE (processing)", time.Since(start), processing)
	if processing == 0 {
		t.Error("no KEEPALIVE while the TPM made the RSA key")
	}
}
