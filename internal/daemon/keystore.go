package daemon

import (
	"log/slog"

	"github.com/vauth/vauth/keystore"
	"github.com/vauth/vauth/keystore/soft"
)

// openKeystore opens the store's keystore backend.
func openKeystore(opts Options, logger *slog.Logger) (keystore.Keystore, error) {
	return soft.Open(opts.Store, soft.Options{Logger: logger})
}
