package tpm

import (
	"testing"

	"github.com/vauth/vauth/internal/keystoretest"
	"github.com/vauth/vauth/keystore"
	"github.com/vauth/vauth/keystore/tpm/tpmtest"
)

// opener opens stores on one TPM for the whole suite, so that reopening a
// directory finds the same TPM.
func opener(opts Options) keystoretest.Opener {
	return func(t *testing.T, dir string) keystore.Keystore {
		t.Helper()
		ks, err := Open(dir, opts)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		return ks
	}
}

func TestConformanceSimulator(t *testing.T) {
	keystoretest.Run(t, opener(Options{TPM: tpmtest.Simulator(t)}))
}

func TestConformanceSwtpm(t *testing.T) {
	keystoretest.Run(t, opener(Options{Device: tpmtest.StartSwtpm(t, t.TempDir()).Device}))
}
