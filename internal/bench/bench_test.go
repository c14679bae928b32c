package bench

import (
	"testing"

	"github.com/vauth/vauth/keystore"
)

func BenchmarkECDSASign(b *testing.B)         { ECDSASign(b) }
func BenchmarkGetAssertion(b *testing.B)      { GetAssertion(b) }
func BenchmarkGetAssertionCable(b *testing.B) { GetAssertionCable(b) }
func BenchmarkMakeCredential(b *testing.B)    { MakeCredential(b) }
func BenchmarkTPMSign(b *testing.B)           { TPMSign(b) }
func BenchmarkGetAssertionTPM(b *testing.B)   { GetAssertionTPM(b) }
func BenchmarkMakeCredentialTPM(b *testing.B) { MakeCredentialTPM(b) }
func BenchmarkPing(b *testing.B)              { Ping(b) }
func BenchmarkPingCable(b *testing.B)         { PingCable(b) }

// BenchmarkAlgorithms measures, per algorithm, an assertion through the
// pipe (GetAssertion-ALG) and its floor, the bare signature (Sign-ALG).
func BenchmarkAlgorithms(b *testing.B) {
	for _, alg := range keystore.Preferred() {
		name := keystore.AlgorithmName(alg)
		b.Run("Sign-"+name, BareSign(alg))
		b.Run("GetAssertion-"+name, GetAssertionAlg(alg))
	}
}
