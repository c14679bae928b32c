package bench

import "testing"

func BenchmarkECDSASign(b *testing.B)         { ECDSASign(b) }
func BenchmarkGetAssertion(b *testing.B)      { GetAssertion(b) }
func BenchmarkGetAssertionCable(b *testing.B) { GetAssertionCable(b) }
func BenchmarkMakeCredential(b *testing.B)    { MakeCredential(b) }
