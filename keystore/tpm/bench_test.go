package tpm

import (
	"crypto/sha256"
	"testing"

	"github.com/google/go-tpm/tpm2"

	"github.com/vauth/vauth/keystore"
	"github.com/vauth/vauth/keystore/tpm/tpmtest"
)

// BenchmarkSign compares repeated signatures with one credential, through
// the store (Keystore.Sign) and through the engine alone, against a bare
// TPM2_Sign round trip with the same loaded key, on the simulator and on
// swtpm. It reports the TPM commands each signature sends.
func BenchmarkSign(b *testing.B) {
	tpms := []struct {
		name string
		opts func(b *testing.B) Options
	}{
		{"simulator", func(b *testing.B) Options { return Options{TPM: tpmtest.Simulator(b)} }},
		{"swtpm", func(b *testing.B) Options { return Options{Device: tpmtest.StartSwtpm(b, b.TempDir()).Device} }},
	}
	msg := make([]byte, 37+32) // authenticatorData || clientDataHash
	reportCommands := func(b *testing.B, e *Engine, before CommandCounts) {
		d := e.CommandCounts().Sub(before)
		b.ReportMetric(float64(d.Total())/float64(b.N), "tpmcmds/op")
		b.ReportMetric(float64(d[tpm2.TPMCCSign])/float64(b.N), "TPM2_Sign/op")
	}
	for _, tt := range tpms {
		b.Run(tt.name, func(b *testing.B) {
			ks, err := Open(b.TempDir(), tt.opts(b))
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = ks.Close() })
			e := ks.Engine()
			rpIDHash := sha256.Sum256([]byte("example.com"))
			cred, err := ks.Create(keystore.CreateRequest{RPID: "example.com", RPIDHash: rpIDHash, Algorithm: keystore.ES256})
			if err != nil {
				b.Fatal(err)
			}
			_, blob, err := e.Generate(keystore.ES256)
			if err != nil {
				b.Fatal(err)
			}
			// Load both keys, so that the loops measure the steady state.
			if _, err := ks.Sign(cred, msg); err != nil {
				b.Fatal(err)
			}
			if _, err := e.Sign(keystore.ES256, blob, msg); err != nil {
				b.Fatal(err)
			}
			b.Run("store", func(b *testing.B) {
				before := e.CommandCounts()
				for b.Loop() {
					if _, err := ks.Sign(cred, msg); err != nil {
						b.Fatal(err)
					}
				}
				reportCommands(b, e, before)
			})
			b.Run("engine", func(b *testing.B) {
				before := e.CommandCounts()
				for b.Loop() {
					if _, err := e.Sign(keystore.ES256, blob, msg); err != nil {
						b.Fatal(err)
					}
				}
				reportCommands(b, e, before)
			})
			b.Run("bare", func(b *testing.B) {
				e.mu.Lock()
				key, err := e.credentialKey(blob)
				e.mu.Unlock()
				if err != nil {
					b.Fatal(err)
				}
				digest := sha256.Sum256(msg)
				sign := tpm2.Sign{
					KeyHandle:  key,
					Digest:     tpm2.TPM2BDigest{Buffer: digest[:]},
					InScheme:   signAlgorithms[keystore.ES256].signScheme(),
					Validation: tpm2.TPMTTKHashCheck{Tag: tpm2.TPMSTHashCheck, Hierarchy: tpm2.TPMRHNull},
				}
				for b.Loop() {
					if _, err := sign.Execute(e.tpm.next); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}
