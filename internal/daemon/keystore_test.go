package daemon

import (
	"encoding/json"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vauth/vauth/keystore/soft"
	"github.com/vauth/vauth/keystore/tpm"
	"github.com/vauth/vauth/keystore/tpm/tpmtest"
)

// readMarker returns the store's marker, or nil when it has none.
func readMarker(t *testing.T, dir string) *marker {
	t.Helper()
	path := filepath.Join(dir, markerFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("marker mode %04o, want 0600", fi.Mode().Perm())
	}
	var m marker
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatalf("marker %q: %v", data, err)
	}
	return &m
}

// A store opens with the backend it was made with: the marker records it at
// creation, a mismatch with --keystore is an error, auto follows the
// marker, and auto on a new store takes the TPM when it works.
func TestOpenKeystore(t *testing.T) {
	sw := tpmtest.StartSwtpm(t, t.TempDir())
	stores := map[string]string{"soft": t.TempDir(), "tpm": t.TempDir(), "auto-tpm": t.TempDir(), "unmarked": t.TempDir()}
	unmarked, err := soft.Open(stores["unmarked"], soft.Options{}) // a store without a marker
	if err != nil {
		t.Fatal(err)
	}
	if err := unmarked.Close(); err != nil {
		t.Fatal(err)
	}
	_, noDefaultTPM := os.Stat(tpm.DefaultDevice)

	type testCase struct {
		name        string
		store       string // a key of stores, or "" for a new directory
		keystore    string
		tpm         string // "swtpm" for the swtpm above
		wantBackend string
		wantErr     string
	}
	tests := []testCase{
		{name: "new soft", store: "soft", keystore: "soft", wantBackend: "soft"},
		{name: "new tpm", store: "tpm", keystore: "tpm", tpm: "swtpm", wantBackend: "tpm"},
		{name: "new auto with --tpm", store: "auto-tpm", keystore: "auto", tpm: "swtpm", wantBackend: "tpm"},
		{name: "new auto, --tpm does not work", keystore: "auto", tpm: "tcp:127.0.0.1:1", wantErr: "--tpm does not work"},
		{name: "new tpm, no TPM", keystore: "tpm", tpm: "tcp:127.0.0.1:1", wantErr: "connect to 127.0.0.1:1"},
		{name: "soft store as tpm", store: "soft", keystore: "tpm", tpm: "swtpm", wantErr: "made with the soft keystore"},
		{name: "soft store as auto", store: "soft", keystore: "auto", tpm: "swtpm", wantBackend: "soft"},
		{name: "soft store, default keystore", store: "soft", wantBackend: "soft"},
		{name: "tpm store as soft", store: "tpm", keystore: "soft", wantErr: "use --keystore tpm"},
		{name: "tpm store as auto", store: "tpm", keystore: "auto", tpm: "swtpm", wantBackend: "tpm"},
		{name: "auto-made store as tpm", store: "auto-tpm", keystore: "tpm", tpm: "swtpm", wantBackend: "tpm"},
		{name: "unmarked store as auto", store: "unmarked", keystore: "auto", wantErr: "name it once with --keystore soft or --keystore tpm"},
		{name: "unmarked store as tpm", store: "unmarked", keystore: "tpm", tpm: "swtpm", wantErr: "unseal master key"},
		{name: "unmarked store as soft", store: "unmarked", keystore: "soft", wantBackend: "soft"},
		{name: "unmarked store, now marked, as auto", store: "unmarked", keystore: "auto", wantBackend: "soft"},
		{name: "unknown keystore", keystore: "hsm", wantErr: "want tpm, soft or auto"},
	}
	if noDefaultTPM != nil {
		tests = append(tests, testCase{name: "new auto without a TPM", keystore: "auto", wantBackend: "soft"})
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if tc.store != "" {
				dir = stores[tc.store]
			}
			device := tc.tpm
			if device == "swtpm" {
				device = sw.Device
			}
			before := readMarker(t, dir)
			ks, err := openKeystore(Options{Store: dir, Keystore: tc.keystore, TPM: device}, slog.New(slog.DiscardHandler))
			if tc.wantErr != "" {
				if err == nil {
					ks.Close()
					t.Fatalf("openKeystore succeeded, want an error mentioning %q", tc.wantErr)
				}
				if !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("openKeystore: %v, want an error mentioning %q", err, tc.wantErr)
				}
				if after := readMarker(t, dir); (after == nil) != (before == nil) || (after != nil && *after != *before) {
					t.Errorf("a failed open changed the marker from %v to %v", before, after)
				}
				return
			}
			if err != nil {
				t.Fatalf("openKeystore: %v", err)
			}
			defer ks.Close() // the swtpm serves one connection at a time
			if got := ks.Backend(); got != tc.wantBackend {
				t.Errorf("backend %q, want %q", got, tc.wantBackend)
			}
			if m := readMarker(t, dir); m == nil || *m != (marker{Version: markerVersion, Backend: tc.wantBackend}) {
				t.Errorf("marker %+v, want version %d backend %s", m, markerVersion, tc.wantBackend)
			}
			want := map[string]string{"tpm": "tpm", "soft": "packed"}[tc.wantBackend]
			if got := defaultAttestation(ks); got != want {
				t.Errorf("default attestation %q, want %q", got, want)
			}
		})
	}
}

// A marker that cannot be read stops the store from opening.
func TestBadMarker(t *testing.T) {
	logger := slog.New(slog.DiscardHandler)
	tests := []struct {
		content string
		wantErr string
	}{
		{`{"version":2,"backend":"soft"}`, "version 2"},
		{`{"version":1,"backend":"hsm"}`, `unknown backend "hsm"`},
		{`soft`, "backend.json"},
	}
	for _, tc := range tests {
		dir := t.TempDir()
		ks, err := openKeystore(Options{Store: dir, Keystore: "soft"}, logger)
		if err != nil {
			t.Fatal(err)
		}
		ks.Close()
		if err := os.WriteFile(filepath.Join(dir, markerFile), []byte(tc.content), 0o600); err != nil {
			t.Fatal(err)
		}
		ks, err = openKeystore(Options{Store: dir, Keystore: "soft"}, logger)
		if err == nil {
			ks.Close()
			t.Errorf("marker %s: open succeeded", tc.content)
		} else if !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("marker %s: %v, want an error mentioning %q", tc.content, err, tc.wantErr)
		}
	}

}
