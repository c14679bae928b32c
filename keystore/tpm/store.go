package tpm

import (
	"errors"

	"github.com/google/go-tpm/tpm2/transport"

	"github.com/vauth/vauth/keystore"
	"github.com/vauth/vauth/keystore/soft"
)

// Options names the TPM and tunes the backend.
type Options struct {
	// Device is the TPM: a device node (DefaultDevice when empty) or
	// "tcp:HOST:PORT" for a raw TPM command port such as swtpm's.
	Device string
	// TPM, when set, is an open TPM to use instead of Device (a simulator in
	// tests); the caller keeps ownership and closes it.
	TPM transport.TPM
	// CacheSize is how many credential keys stay loaded (DefaultCacheSize
	// when 0).
	CacheSize int
	// Soft configures the store itself; Open sets its Engine and Sealer.
	Soft soft.Options
}

// Store is the soft store with TPM keys and a TPM-sealed master key. It
// closes the TPM engine with the store.
type Store struct {
	*soft.Store
	engine *Engine
}

// Open opens (creating if needed) the store in dir with a TPM engine and
// sealer on the TPM that opts names.
func Open(dir string, opts Options) (*Store, error) {
	e, err := OpenEngine(opts)
	if err != nil {
		return nil, err
	}
	so := opts.Soft
	so.Engine, so.Sealer = e, e.Sealer()
	s, err := soft.Open(dir, so)
	if err != nil {
		return nil, errors.Join(err, e.Close())
	}
	return &Store{Store: s, engine: e}, nil
}

// Engine returns the store's TPM engine (for its command counts).
func (s *Store) Engine() *Engine { return s.engine }

// Close implements keystore.Keystore: it closes the store, then flushes the
// TPM objects and closes the TPM. Closing twice is harmless.
func (s *Store) Close() error {
	return errors.Join(s.Store.Close(), s.engine.Close())
}

var (
	_ keystore.Keystore = (*Store)(nil)
	_ soft.KeyEngine    = (*Engine)(nil)
	_ soft.Sealer       = (*Sealer)(nil)
)
