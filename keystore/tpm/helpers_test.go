package tpm

import (
	"testing"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"
)

// openTestEngine opens an engine on tpm and closes it when the test ends.
func openTestEngine(t testing.TB, tpm transport.TPM, cacheSize int) *Engine {
	t.Helper()
	e, err := OpenEngine(Options{TPM: tpm, CacheSize: cacheSize})
	if err != nil {
		t.Fatalf("OpenEngine: %v", err)
	}
	t.Cleanup(func() { _ = e.Close() })
	return e
}

// transientHandles lists the transient objects loaded in the TPM.
func transientHandles(t testing.TB, tpm transport.TPM) []tpm2.TPMHandle {
	t.Helper()
	rsp, err := tpm2.GetCapability{
		Capability:    tpm2.TPMCapHandles,
		Property:      uint32(tpm2.TPMHTTransient) << 24,
		PropertyCount: 64,
	}.Execute(tpm)
	if err != nil {
		t.Fatalf("GetCapability: %v", err)
	}
	h, err := rsp.CapabilityData.Data.Handles()
	if err != nil {
		t.Fatalf("GetCapability: %v", err)
	}
	return h.Handle
}
