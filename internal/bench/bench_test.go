package bench

import "testing"

func BenchmarkECDSASign(b *testing.B)         { ECDSASign(b) }
func BenchmarkGetAssertion(b *testing.B)      { GetAssertion(b) }
func BenchmarkGetAssertionCable(b *testing.B) { GetAssertionCable(b) }
func BenchmarkMakeCredential(b *testing.B)    { MakeCredential(b) }
func BenchmarkTPMSign(b *testing.B)           { TPMSign(b) }
func BenchmarkGetAssertionTPM(b *testing.B)   { GetAssertionTPM(b) }
func BenchmarkMakeCredentialTPM(b *testing.B) { MakeCredentialTPM(b) }
func BenchmarkPing(b *testing.B)              { Ping(b) }
func BenchmarkPingCable(b *testing.B)         { PingCable(b) }
