package bench

import (
	"testing"

	"github.com/vauth/vauth/keystore"
)

func BenchmarkGetAssertion(b *testing.B)      { GetAssertion(b) }
func BenchmarkGetAssertionCable(b *testing.B) { GetAssertionCable(b) }
func BenchmarkMakeCredential(b *testing.B)    { MakeCredential(b) }
func BenchmarkTPMSign(b *testing.B)           { TPMSign(b) }
func BenchmarkGetAssertionTPM(b *testing.B)   { GetAssertionTPM(b) }
func BenchmarkMakeCredentialTPM(b *testing.B) { MakeCredentialTPM(b) }
func BenchmarkPing(b *testing.B)              { Ping(b) }
func BenchmarkPingCable(b *testing.B)         { PingCable(b) }

// BenchmarkECDSASign is the floor of an ES256 assertion alone.
func BenchmarkECDSASign(b *testing.B) {
	sign := BareSignOp(keystore.ES256)(b)
	for b.Loop() {
		sign()
	}
}

// BenchmarkAlgorithms measures, per algorithm, an assertion through the
// pipe side by side with its floor, the bare signature (Paired).
func BenchmarkAlgorithms(b *testing.B) {
	for _, alg := range keystore.Preferred() {
		b.Run("GetAssertion-"+keystore.AlgorithmName(alg), Paired(GetAssertionOp(alg), BareSignOp(alg)))
	}
}

// BenchmarkTPMAlgorithms measures, per algorithm a TPM makes keys for, on
// swtpm: an assertion through the pipe side by side with its floor, a bare
// TPM2_Sign with a key of the same type (GetAssertion-ALG, Paired), and a
// registration with tpm attestation (MakeCredential-ALG); and the floor of
// an RSA registration, a bare RSA-2048 TPM2_CreateLoaded.
func BenchmarkTPMAlgorithms(b *testing.B) {
	for _, alg := range []int{keystore.ES256, keystore.ES384, keystore.ES512, keystore.RS256, keystore.PS256} {
		name := keystore.AlgorithmName(alg)
		b.Run("GetAssertion-"+name, Paired(GetAssertionTPMOp(alg), TPMSignOp(alg)))
		b.Run("MakeCredential-"+name, MakeCredentialTPMAlg(alg))
	}
	b.Run("TPM2_CreateLoaded-RSA2048", TPMCreateRSA)
}
