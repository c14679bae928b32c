package tpm

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"maps"
	"strings"
	"testing"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"

	"github.com/vauth/vauth/internal/cose"
	"github.com/vauth/vauth/keystore"
	"github.com/vauth/vauth/keystore/tpm/tpmtest"
)

// newCredential makes a non-discoverable ES256 credential in ks.
func newCredential(t *testing.T, ks keystore.Keystore) *keystore.Credential {
	t.Helper()
	c, err := ks.Create(keystore.CreateRequest{RPIDHash: sha256.Sum256([]byte("example.com")), Algorithm: keystore.ES256})
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	return c
}

// checkCertification checks a TPM2_Certify result as a WebAuthn relying
// party does (§8.3 verification steps), with the TPM structures decoded by
// go-tpm: magic and type, extraData, the attested name against pubArea, the
// pubArea against the credential's key, and the signature with the
// attestation key.
func checkCertification(t *testing.T, cred *keystore.Credential, aik any, qd, certInfo, sig, pubArea []byte) {
	t.Helper()
	attest, err := tpm2.Unmarshal[tpm2.TPMSAttest](certInfo)
	if err != nil {
		t.Fatalf("certInfo: %v", err)
	}
	if err := attest.Magic.Check(); err != nil || attest.Type != tpm2.TPMSTAttestCertify {
		t.Errorf("certInfo magic %x type %x, want TPM_GENERATED_VALUE and TPM_ST_ATTEST_CERTIFY", attest.Magic, attest.Type)
	}
	if !bytes.Equal(attest.ExtraData.Buffer, qd) {
		t.Errorf("certInfo extraData %x, want %x", attest.ExtraData.Buffer, qd)
	}
	pub, err := tpm2.Unmarshal[tpm2.TPMTPublic](pubArea)
	if err != nil {
		t.Fatalf("pubArea: %v", err)
	}
	certified, err := attest.Attested.Certify()
	if err != nil {
		t.Fatalf("certInfo attested: %v", err)
	}
	name, err := tpm2.ObjectName(pub)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(certified.Name.Buffer, name.Buffer) {
		t.Errorf("certInfo attests name %x, pubArea's name is %x", certified.Name.Buffer, name.Buffer)
	}
	point, err := pub.Unique.ECC()
	if err != nil {
		t.Fatal(err)
	}
	if pk, err := publicKey(keyP256, unique{point: *point}); err != nil || !cose.Equal(pk, cred.PublicKey) {
		t.Errorf("pubArea holds key %v (%v), not the credential's", pk, err)
	}
	params, err := pub.Parameters.ECCDetail()
	if err != nil {
		t.Fatal(err)
	}
	if params.Scheme.Scheme != tpm2.TPMAlgNull || params.Symmetric.Algorithm != tpm2.TPMAlgNull || params.CurveID != tpm2.TPMECCNistP256 {
		t.Errorf("pubArea parameters %+v: want P-256 with null scheme and symmetric (python-fido2 requires them)", params)
	}
	digest := sha256.Sum256(certInfo)
	if !ecdsa.VerifyASN1(aik.(*ecdsa.PublicKey), digest[:], sig) {
		t.Error("the signature over certInfo does not verify with the attestation key")
	}
}

// Certify on the simulator: what a relying party checks holds, a second
// ceremony does not verify against the first one's data, and each
// registration costs the TPM commands we expect.
func TestCertify(t *testing.T) {
	tpm := tpmtest.Simulator(t)
	dir := t.TempDir()
	ks, err := Open(dir, Options{TPM: tpm})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer ks.Close()
	aik, err := ks.AttestationKey()
	if err != nil {
		t.Fatalf("AttestationKey: %v", err)
	}
	e := ks.Engine()
	cc := func(c tpm2.TPMCC) tpm2.TPMCC { return c }
	flush, create, certify, sign := cc(tpm2.TPMCCFlushContext), cc(tpm2.TPMCCCreateLoaded), cc(tpm2.TPMCCCertify), cc(tpm2.TPMCCSign)
	// Registration: the new key is made loaded and certified at once, then
	// its first assertion is one TPM2_Sign. From the second on, making the
	// key evicts the least recently used one (the cache holds the
	// attestation key and the newest credential key).
	for i, want := range []CommandCounts{
		{create: 1, certify: 1},
		{flush: 1, create: 1, certify: 1},
		{flush: 1, create: 1, certify: 1},
	} {
		before := e.CommandCounts()
		cred := newCredential(t, ks)
		qd := sha256.Sum256([]byte{byte(i)})
		certInfo, sig, pubArea, err := ks.Certify(cred, qd[:])
		if err != nil {
			t.Fatalf("Certify %d: %v", i, err)
		}
		if got := e.CommandCounts().Sub(before); !maps.Equal(got, want) {
			t.Errorf("registration %d sent %v, want %v", i, got, want)
		}
		checkCertification(t, cred, aik, qd[:], certInfo, sig, pubArea)
		before = e.CommandCounts()
		if _, err := ks.Sign(cred, []byte("assertion")); err != nil {
			t.Fatal(err)
		}
		if got := e.CommandCounts().Sub(before); !maps.Equal(got, CommandCounts{sign: 1}) {
			t.Errorf("first assertion after registration %d sent %v, want one TPM2_Sign", i, got)
		}
	}

	t.Run("BadInput", func(t *testing.T) {
		cred := newCredential(t, ks)
		if _, _, _, err := ks.Certify(cred, make([]byte, maxQualifyingData+1)); err == nil {
			t.Error("Certify with 67 bytes of qualifying data succeeded")
		}
		if _, _, _, err := ks.Certify(nil, nil); err == nil {
			t.Error("Certify(nil) succeeded")
		}
		pub, _, _ := ed25519.GenerateKey(nil)
		eddsa := &keystore.Credential{Algorithm: keystore.EdDSA, PublicKey: pub}
		if _, _, _, err := ks.Certify(eddsa, nil); !errors.Is(err, keystore.ErrUnsupportedAlgorithm) {
			t.Errorf("Certify(EdDSA credential) = %v, want ErrUnsupportedAlgorithm", err)
		}
		other, err := ecdsa.GenerateKey(cred.PublicKey.(*ecdsa.PublicKey).Curve, nil)
		if err != nil {
			t.Fatal(err)
		}
		stranger := *cred
		stranger.PublicKey = &other.PublicKey
		if _, _, _, err := ks.Certify(&stranger, nil); !errors.Is(err, ErrNotCertifiable) {
			t.Errorf("Certify(a key the store did not make) = %v, want ErrNotCertifiable", err)
		}
	})

	// The attestation key is restricted: it signs what the TPM made, never
	// a digest handed to it (which could forge a TPMS_ATTEST).
	t.Run("Restricted", func(t *testing.T) {
		blob, _, err := ks.attestationKey()
		if err != nil {
			t.Fatal(err)
		}
		e.mu.Lock()
		h, err := e.key(blob, true)
		e.mu.Unlock()
		if err != nil {
			t.Fatal(err)
		}
		digest := sha256.Sum256([]byte("\xffTCG forged"))
		_, err = tpm2.Sign{
			KeyHandle:  h,
			Digest:     tpm2.TPM2BDigest{Buffer: digest[:]},
			InScheme:   signAlgorithms[keystore.ES256].signScheme(),
			Validation: tpm2.TPMTTKHashCheck{Tag: tpm2.TPMSTHashCheck, Hierarchy: tpm2.TPMRHNull},
		}.Execute(e.tpm)
		if !errors.Is(err, tpm2.TPMRCTicket) {
			t.Errorf("TPM2_Sign of an outside digest with the attestation key = %v, want TPM_RC_TICKET", err)
		}
	})

	// The attestation key is made once: the reopened store has the same;
	// Reset makes a new one. A credential from before the reopen is no
	// longer certifiable (attestation happens at creation).
	cred := newCredential(t, ks)
	if err := ks.Close(); err != nil {
		t.Fatal(err)
	}
	ks, err = Open(dir, Options{TPM: tpm})
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer ks.Close()
	again, err := ks.AttestationKey()
	if err != nil {
		t.Fatal(err)
	}
	if !again.(*ecdsa.PublicKey).Equal(aik) {
		t.Error("the reopened store has another attestation key")
	}
	if _, _, _, err := ks.Certify(cred, nil); !errors.Is(err, ErrNotCertifiable) {
		t.Errorf("Certify of a credential made before reopening = %v, want ErrNotCertifiable", err)
	}
	if err := ks.Reset(); err != nil {
		t.Fatal(err)
	}
	renewed, err := ks.AttestationKey()
	if err != nil {
		t.Fatal(err)
	}
	if renewed.(*ecdsa.PublicKey).Equal(aik) {
		t.Error("Reset kept the attestation key")
	}
	cred = newCredential(t, ks)
	qd := []byte("after reset")
	certInfo, sig, pubArea, err := ks.Certify(cred, qd)
	if err != nil {
		t.Fatalf("Certify after Reset: %v", err)
	}
	checkCertification(t, cred, renewed, qd, certInfo, sig, pubArea)
}

// TPMInfo reads the identity each TPM reports: the reference simulator is
// Microsoft's, swtpm is built on IBM's libtpms.
func TestTPMInfo(t *testing.T) {
	tests := []struct {
		name         string
		tpm          func(t *testing.T) transport.TPM
		manufacturer uint32
		model        string
	}{
		{"simulator", func(t *testing.T) transport.TPM { return tpmtest.Simulator(t) }, 0x4D534654, "xCG fTPM"}, // "MSFT"
		{"swtpm", func(t *testing.T) transport.TPM {
			tc, err := OpenDevice(tpmtest.StartSwtpm(t, t.TempDir()).Device)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { tc.Close() })
			return tc
		}, 0x49424D00, "SW   TPM"}, // "IBM\0"
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ks, err := Open(t.TempDir(), Options{TPM: tc.tpm(t)})
			if err != nil {
				t.Fatal(err)
			}
			defer ks.Close()
			before := ks.Engine().CommandCounts()
			for range 2 {
				m, model, fw, err := ks.TPMInfo()
				if err != nil {
					t.Fatalf("TPMInfo: %v", err)
				}
				if m != tc.manufacturer || model != tc.model || fw>>32 == 0 || strings.ContainsRune(model, 0) {
					t.Errorf("TPMInfo = %#x %q %#x, want %#x %q and a firmware version", m, model, fw, tc.manufacturer, tc.model)
				}
			}
			if got := ks.Engine().CommandCounts().Sub(before); got.Total() != 1 {
				t.Errorf("two TPMInfo calls sent %v, want one TPM2_GetCapability", got)
			}
		})
	}
}
