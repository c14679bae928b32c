package daemon

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/vauth/vauth/attestation"
	"github.com/vauth/vauth/keystore"
	"github.com/vauth/vauth/keystore/soft"
	"github.com/vauth/vauth/keystore/tpm"
)

// Keystore backends (Options.Keystore).
const (
	BackendAuto = "auto" // the TPM when one works when the store is made, else soft
	BackendTPM  = "tpm"
	BackendSoft = "soft"
)

// The store's backend marker: a small versioned file that says which
// backend made the store, written when the store is created (once it is
// open, so locked) and read before it is opened, so that a store always
// opens with its own backend.
const (
	markerFile    = "backend.json"
	markerVersion = 1
	// storeFile is the store's database, which both backends keep: the
	// store exists when it does.
	storeFile = "store.db"
)

// marker is the content of the marker file.
type marker struct {
	Version int    `json:"version"`
	Backend string `json:"backend"`
}

// openKeystore opens the store's keystore backend: the one its marker
// names; on a new store the one opts.Keystore asks for, where auto means
// the TPM when it opens and works (opts.TPM, else /dev/tpmrm0), else soft.
// Asking for a backend other than the store's is an error.
func openKeystore(opts Options, logger *slog.Logger) (keystore.Keystore, error) {
	want := opts.Keystore
	if want == "" {
		want = BackendAuto
	}
	if want != BackendAuto && want != BackendTPM && want != BackendSoft {
		return nil, fmt.Errorf("--keystore %q: want tpm, soft or auto", want)
	}
	have, exists, err := storeBackend(opts.Store)
	if err != nil {
		return nil, err
	}
	switch {
	case have != "" && want != BackendAuto && want != have:
		return nil, fmt.Errorf("the store %s was made with the %s keystore, so it cannot open with --keystore %s: use --keystore %s (or auto), or another --store",
			opts.Store, have, want, have)
	case exists && have == "" && want == BackendAuto:
		return nil, fmt.Errorf("the store %s does not say which keystore made it (it is from an older vauth, or its creation was interrupted): name it once with --keystore soft or --keystore tpm", opts.Store)
	}
	backend := have
	if backend == "" {
		backend = want
	}
	softOpts := soft.Options{Logger: logger, RSABits: opts.RSABits}
	tpmOpts := tpm.Options{Device: opts.TPM, Soft: softOpts}
	var ks keystore.Keystore
	switch backend {
	case BackendTPM:
		ks, err = tpm.Open(opts.Store, tpmOpts)
	case BackendSoft:
		ks, err = soft.Open(opts.Store, softOpts)
	default: // auto, on a new store
		ks, err = openAuto(opts.Store, tpmOpts, logger)
	}
	if err != nil {
		return nil, err
	}
	if have == "" {
		// The store is open, so locked: no other process makes it meanwhile.
		if err := writeMarker(opts.Store, ks.Backend()); err != nil {
			return nil, errors.Join(err, ks.Close())
		}
	}
	return ks, nil
}

// openAuto makes a new store on the TPM when one opens and works (its
// storage key can be made), else a soft one, and logs which. A TPM named
// explicitly (--tpm) must work: a store keeps its backend for good, so it
// is not made soft behind the user's back.
func openAuto(dir string, opts tpm.Options, logger *slog.Logger) (keystore.Keystore, error) {
	device := opts.Device
	if device == "" {
		device = tpm.DefaultDevice
	}
	e, err := tpm.OpenEngine(opts)
	if err != nil {
		if opts.Device != "" {
			return nil, fmt.Errorf("--keystore auto: the TPM given with --tpm does not work: %w", err)
		}
		logger.Info("no usable TPM: the new store uses the soft keystore", "tpm", device, "reason", err)
		return soft.Open(dir, opts.Soft)
	}
	logger.Info("the new store uses the TPM keystore", "tpm", device)
	return tpm.OpenWithEngine(dir, e, opts.Soft)
}

// storeBackend returns the backend that made the store in dir, as its
// marker records it, and whether the store exists. A store without a
// marker (from before markers, or whose creation was interrupted before the
// marker was written) gives "" and true.
func storeBackend(dir string) (backend string, exists bool, err error) {
	if _, err := os.Stat(filepath.Join(dir, storeFile)); errors.Is(err, fs.ErrNotExist) {
		return "", false, nil
	} else if err != nil {
		return "", false, fmt.Errorf("store: %w", err)
	}
	path := filepath.Join(dir, markerFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", true, nil
	}
	if err != nil {
		return "", true, fmt.Errorf("store backend marker: %w", err)
	}
	var m marker
	if err := json.Unmarshal(data, &m); err != nil {
		return "", true, fmt.Errorf("store backend marker %s: %w", path, err)
	}
	if m.Version != markerVersion {
		return "", true, fmt.Errorf("store backend marker %s has version %d; this vauth reads version %d (was the store made by a newer vauth?)", path, m.Version, markerVersion)
	}
	if m.Backend != BackendTPM && m.Backend != BackendSoft {
		return "", true, fmt.Errorf("store backend marker %s names unknown backend %q", path, m.Backend)
	}
	return m.Backend, true, nil
}

// writeMarker records the store's backend: written to a temporary file,
// synced, renamed into place and the directory synced, so that a crash
// leaves either no marker or the whole one.
func writeMarker(dir, backend string) error {
	data, err := json.Marshal(marker{Version: markerVersion, Backend: backend})
	if err != nil {
		return err
	}
	path := filepath.Join(dir, markerFile)
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("store backend marker: %w", err)
	}
	_, err = f.Write(append(data, '\n'))
	err = errors.Join(err, f.Sync(), f.Close())
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err == nil {
		err = syncDir(dir)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("store backend marker: %w", err)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	return errors.Join(d.Sync(), d.Close())
}

// defaultAttestation is the attestation of a keystore when --attestation is
// not given: tpm on a TPM store, whose TPM certifies the keys it holds;
// packed (basic, vauth's CA) otherwise.
func defaultAttestation(ks keystore.Keystore) string {
	if ks.Backend() == BackendTPM {
		return attestation.KindTPM
	}
	return attestation.KindPacked
}
