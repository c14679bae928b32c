package bench

import (
	"crypto/sha256"
	"path/filepath"
	"testing"

	"github.com/google/go-tpm/tpm2"

	"github.com/vauth/vauth/internal/daemon"
	"github.com/vauth/vauth/internal/presence"
	"github.com/vauth/vauth/keystore"
	"github.com/vauth/vauth/keystore/tpm"
	"github.com/vauth/vauth/keystore/tpm/tpmtest"
)

// TPMSign is the TPM floor: one bare TPM2_Sign round trip on swtpm (TCP
// command port, as the TPM benchmarks use), with a P-256 key already
// loaded, over a SHA-256 digest. It is go-tpm alone, without vauth's
// engine.
func TPMSign(b *testing.B) {
	t, err := tpm.OpenDevice(tpmtest.StartSwtpm(b, b.TempDir()).Device)
	if err != nil {
		b.Fatal(err)
	}
	defer t.Close()
	primary, err := tpm2.CreatePrimary{
		PrimaryHandle: tpm2.TPMRHOwner,
		InPublic:      tpm2.New2B(tpm2.ECCSRKTemplate),
	}.Execute(t)
	if err != nil {
		b.Fatal(err)
	}
	key, err := tpm2.CreateLoaded{
		ParentHandle: tpm2.NamedHandle{Handle: primary.ObjectHandle, Name: primary.Name},
		InPublic: tpm2.New2BTemplate(&tpm2.TPMTPublic{
			Type:             tpm2.TPMAlgECC,
			NameAlg:          tpm2.TPMAlgSHA256,
			ObjectAttributes: tpm2.TPMAObject{FixedTPM: true, FixedParent: true, SensitiveDataOrigin: true, UserWithAuth: true, NoDA: true, SignEncrypt: true},
			Parameters: tpm2.NewTPMUPublicParms(tpm2.TPMAlgECC, &tpm2.TPMSECCParms{
				Scheme: tpm2.TPMTECCScheme{
					Scheme:  tpm2.TPMAlgECDSA,
					Details: tpm2.NewTPMUAsymScheme(tpm2.TPMAlgECDSA, &tpm2.TPMSSigSchemeECDSA{HashAlg: tpm2.TPMAlgSHA256}),
				},
				CurveID: tpm2.TPMECCNistP256,
			}),
		}),
	}.Execute(t)
	if err != nil {
		b.Fatal(err)
	}
	digest := sha256.Sum256([]byte("vauth"))
	sign := tpm2.Sign{
		KeyHandle:  tpm2.NamedHandle{Handle: key.ObjectHandle, Name: key.Name},
		Digest:     tpm2.TPM2BDigest{Buffer: digest[:]},
		InScheme:   tpm2.TPMTSigScheme{Scheme: tpm2.TPMAlgNull},
		Validation: tpm2.TPMTTKHashCheck{Tag: tpm2.TPMSTHashCheck, Hierarchy: tpm2.TPMRHNull},
	}
	for b.Loop() {
		if _, err := sign.Execute(t); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	for _, h := range []tpm2.TPMHandle{key.ObjectHandle, primary.ObjectHandle} {
		if _, err := (tpm2.FlushContext{FlushHandle: h}).Execute(t); err != nil {
			b.Fatal(err)
		}
	}
}

// tpmRig is an authenticator on a TPM store on swtpm, with the given
// attestation, reached through the in-memory CTAPHID pipe.
func tpmRig(b *testing.B, attestation string) (*rig, *tpm.Engine) {
	d, err := daemon.Open(daemon.Options{
		Store:       filepath.Join(b.TempDir(), "store"),
		Keystore:    daemon.BackendTPM,
		TPM:         tpmtest.StartSwtpm(b, b.TempDir()).Device,
		Attestation: attestation,
		Presence:    presence.Always(),
	})
	if err != nil {
		b.Fatal(err)
	}
	return serveRig(b, d, pipe), d.Keystore.(*tpm.Store).Engine()
}

// reportTPMCommands reports the TPM commands each operation sent since
// before: in all, and TPM2_Sign alone.
func reportTPMCommands(b *testing.B, e *tpm.Engine, before tpm.CommandCounts) {
	d := e.CommandCounts().Sub(before)
	b.ReportMetric(float64(d.Total())/float64(b.N), "tpmcmds/op")
	b.ReportMetric(float64(d[tpm2.TPMCCSign])/float64(b.N), "TPM2_Sign/op")
}

// GetAssertionTPM is repeated assertions with one non-discoverable
// TPM-backed credential on swtpm through the pipe: framing, CTAP2, the TPM
// keystore, the TPM2_Sign round trip. Compare with TPMSign.
func GetAssertionTPM(b *testing.B) {
	r, e := tpmRig(b, "none")
	req := getAssertionRequest(r.register(b, keystore.ES256))
	r.call(b, req) // the key is loaded: measure the steady state
	before := e.CommandCounts()
	b.ReportAllocs()
	for b.Loop() {
		r.call(b, req)
	}
	reportTPMCommands(b, e, before)
}

// MakeCredentialTPM registers non-discoverable credentials on swtpm with
// tpm attestation (TPM2_CreateLoaded, TPM2_Certify) through the pipe.
func MakeCredentialTPM(b *testing.B) {
	r, e := tpmRig(b, "tpm")
	req := makeCredentialRequest(false, keystore.ES256)
	r.call(b, req) // the attestation key is loaded and certified
	before := e.CommandCounts()
	b.ReportAllocs()
	for b.Loop() {
		r.call(b, req)
	}
	reportTPMCommands(b, e, before)
}
