package attestation

import (
	"sync/atomic"
	"testing"

	"github.com/vauth/vauth/keystore/soft"
)

// openStore opens the soft keystore in dir, closing it when the test ends
// (closing twice is harmless, so tests may close it early to reopen it).
func openStore(t *testing.T, dir string) *soft.Store {
	t.Helper()
	ks, err := soft.Open(dir, soft.Options{})
	if err != nil {
		t.Fatalf("soft.Open: %v", err)
	}
	t.Cleanup(func() { _ = ks.Close() })
	return ks
}

// newStore opens a soft keystore in a fresh directory.
func newStore(t *testing.T) *soft.Store { return openStore(t, t.TempDir()) }

// countingStore counts the blobs written through it, to see what gets
// rewritten.
type countingStore struct {
	BlobStore
	puts atomic.Int32
}

func (s *countingStore) PutBlob(name string, data []byte) error {
	s.puts.Add(1)
	return s.BlobStore.PutBlob(name, data)
}
