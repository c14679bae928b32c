package bench

import (
	"crypto/sha256"
	"crypto/sha512"
	"path/filepath"
	"testing"

	"github.com/google/go-tpm/tpm2"
	tpmtransport "github.com/google/go-tpm/tpm2/transport"

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
	op := tpmSignOp(b, keystore.ES256)
	for b.Loop() {
		op()
	}
}

// TPMSignOp is TPMSign's operation with a key of alg's type (P-256, P-384,
// P-521 or RSA-2048) and its scheme and hash, for Paired.
func TPMSignOp(alg int) func(*testing.B) func() {
	return func(b *testing.B) func() { return tpmSignOp(b, alg) }
}

// TPMCreateRSA is the floor of an RSA registration: one bare
// TPM2_CreateLoaded of an RSA-2048 signing key on swtpm, and its
// TPM2_FlushContext. RSA key generation is a prime search: its time varies
// from key to key.
func TPMCreateRSA(b *testing.B) {
	t, primary := swtpmPrimary(b)
	for b.Loop() {
		key, err := tpm2.CreateLoaded{ParentHandle: primary, InPublic: tpm2.New2BTemplate(tpmKeyTemplate(keystore.RS256))}.Execute(t)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := (tpm2.FlushContext{FlushHandle: key.ObjectHandle}).Execute(t); err != nil {
			b.Fatal(err)
		}
	}
}

// swtpmPrimary starts swtpm and creates the storage primary key there,
// flushed when the benchmark ends.
func swtpmPrimary(b *testing.B) (tpmtransport.TPM, tpm2.NamedHandle) {
	t, err := tpm.OpenDevice(tpmtest.StartSwtpm(b, b.TempDir()).Device)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = t.Close() })
	primary, err := tpm2.CreatePrimary{
		PrimaryHandle: tpm2.TPMRHOwner,
		InPublic:      tpm2.New2B(tpm2.ECCSRKTemplate),
	}.Execute(t)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _, _ = (tpm2.FlushContext{FlushHandle: primary.ObjectHandle}).Execute(t) })
	return t, tpm2.NamedHandle{Handle: primary.ObjectHandle, Name: primary.Name}
}

// tpmSchemes are the TPM2_Sign scheme and hash of each algorithm a TPM
// makes keys for.
var tpmSchemes = map[int]struct {
	scheme, hash tpm2.TPMAlgID
	curve        tpm2.TPMECCCurve
	digest       func([]byte) []byte
}{
	keystore.ES256: {tpm2.TPMAlgECDSA, tpm2.TPMAlgSHA256, tpm2.TPMECCNistP256, func(m []byte) []byte { d := sha256.Sum256(m); return d[:] }},
	keystore.ES384: {tpm2.TPMAlgECDSA, tpm2.TPMAlgSHA384, tpm2.TPMECCNistP384, func(m []byte) []byte { d := sha512.Sum384(m); return d[:] }},
	keystore.ES512: {tpm2.TPMAlgECDSA, tpm2.TPMAlgSHA512, tpm2.TPMECCNistP521, func(m []byte) []byte { d := sha512.Sum512(m); return d[:] }},
	keystore.RS256: {tpm2.TPMAlgRSASSA, tpm2.TPMAlgSHA256, 0, func(m []byte) []byte { d := sha256.Sum256(m); return d[:] }},
	keystore.PS256: {tpm2.TPMAlgRSAPSS, tpm2.TPMAlgSHA256, 0, func(m []byte) []byte { d := sha256.Sum256(m); return d[:] }},
}

// tpmKeyTemplate is an unrestricted signing key of alg's type with no
// scheme of its own, as vauth makes credential keys.
func tpmKeyTemplate(alg int) *tpm2.TPMTPublic {
	pub := &tpm2.TPMTPublic{
		NameAlg:          tpm2.TPMAlgSHA256,
		ObjectAttributes: tpm2.TPMAObject{FixedTPM: true, FixedParent: true, SensitiveDataOrigin: true, UserWithAuth: true, NoDA: true, SignEncrypt: true},
	}
	if s := tpmSchemes[alg]; s.curve != 0 {
		pub.Type = tpm2.TPMAlgECC
		pub.Parameters = tpm2.NewTPMUPublicParms(tpm2.TPMAlgECC, &tpm2.TPMSECCParms{
			Symmetric: tpm2.TPMTSymDefObject{Algorithm: tpm2.TPMAlgNull},
			Scheme:    tpm2.TPMTECCScheme{Scheme: tpm2.TPMAlgNull},
			CurveID:   s.curve,
			KDF:       tpm2.TPMTKDFScheme{Scheme: tpm2.TPMAlgNull},
		})
		return pub
	}
	pub.Type = tpm2.TPMAlgRSA
	pub.Parameters = tpm2.NewTPMUPublicParms(tpm2.TPMAlgRSA, &tpm2.TPMSRSAParms{
		Symmetric: tpm2.TPMTSymDefObject{Algorithm: tpm2.TPMAlgNull},
		Scheme:    tpm2.TPMTRSAScheme{Scheme: tpm2.TPMAlgNull},
		KeyBits:   2048,
	})
	return pub
}

// tpmSignOp starts swtpm, loads a key of alg's type there (flushed when
// the benchmark ends) and returns one TPM2_Sign with it.
func tpmSignOp(b *testing.B, alg int) func() {
	t, primary := swtpmPrimary(b)
	key, err := tpm2.CreateLoaded{ParentHandle: primary, InPublic: tpm2.New2BTemplate(tpmKeyTemplate(alg))}.Execute(t)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _, _ = (tpm2.FlushContext{FlushHandle: key.ObjectHandle}).Execute(t) })
	s := tpmSchemes[alg]
	sign := tpm2.Sign{
		KeyHandle:  tpm2.NamedHandle{Handle: key.ObjectHandle, Name: key.Name},
		InScheme:   tpm2.TPMTSigScheme{Scheme: s.scheme, Details: tpm2.NewTPMUSigScheme(s.scheme, &tpm2.TPMSSchemeHash{HashAlg: s.hash})},
		Validation: tpm2.TPMTTKHashCheck{Tag: tpm2.TPMSTHashCheck, Hierarchy: tpm2.TPMRHNull},
	}
	var msg message
	return func() {
		sign.Digest = tpm2.TPM2BDigest{Buffer: s.digest(msg.next())}
		if _, err := sign.Execute(t); err != nil {
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

// GetAssertionTPM is repeated assertions with one non-discoverable ES256
// TPM-backed credential on swtpm through the pipe: framing, CTAP2, the TPM
// keystore, the TPM2_Sign round trip; it reports the TPM commands each
// sends. Compare with TPMSign.
func GetAssertionTPM(b *testing.B) {
	op, e := getAssertionTPMOp(b, keystore.ES256)
	op() // the key is loaded: measure the steady state
	before := e.CommandCounts()
	b.ReportAllocs()
	for b.Loop() {
		op()
	}
	reportTPMCommands(b, e, before)
}

// GetAssertionTPMOp is GetAssertionTPM's operation with a credential of
// alg, for Paired with TPMSignOp(alg).
func GetAssertionTPMOp(alg int) func(*testing.B) func() {
	return func(b *testing.B) func() {
		op, _ := getAssertionTPMOp(b, alg)
		return op
	}
}

func getAssertionTPMOp(b *testing.B, alg int) (func(), *tpm.Engine) {
	r, e := tpmRig(b, "none")
	req := getAssertionRequest(r.register(b, alg))
	return func() { r.call(b, req) }, e
}

// MakeCredentialTPM registers non-discoverable credentials on swtpm with
// tpm attestation (TPM2_CreateLoaded, TPM2_Certify) through the pipe.
func MakeCredentialTPM(b *testing.B) { makeCredentialTPM(b, keystore.ES256) }

// MakeCredentialTPMAlg is MakeCredentialTPM with credentials of alg; for
// RSA, compare with TPMCreateRSA.
func MakeCredentialTPMAlg(alg int) func(*testing.B) {
	return func(b *testing.B) { makeCredentialTPM(b, alg) }
}

func makeCredentialTPM(b *testing.B, alg int) {
	r, e := tpmRig(b, "tpm")
	req := makeCredentialRequest(false, alg)
	r.call(b, req) // the attestation key is loaded and certified
	before := e.CommandCounts()
	b.ReportAllocs()
	for b.Loop() {
		r.call(b, req)
	}
	reportTPMCommands(b, e, before)
}
