package tpm

import (
	"testing"

	"github.com/google/go-tpm-tools/simulator"
	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"
)

// openSimulator starts a freshly manufactured TPM simulator (new seeds) and
// closes it when the test ends. Only one simulator exists at a time in a
// process: a second call waits until the first is closed.
func openSimulator(t testing.TB) transport.TPMCloser {
	t.Helper()
	sim, err := simulator.Get()
	if err != nil {
		t.Fatalf("simulator: %v", err)
	}
	tpm := transport.FromReadWriteCloser(sim)
	t.Cleanup(func() {
		if !sim.IsClosed() {
			_ = tpm.Close()
		}
	})
	return tpm
}

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
