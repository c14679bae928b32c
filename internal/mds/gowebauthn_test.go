package mds_test

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/go-webauthn/webauthn/metadata"
	"github.com/go-webauthn/webauthn/metadata/providers/memory"
	"github.com/go-webauthn/webauthn/protocol"
	gowebauthn "github.com/go-webauthn/webauthn/webauthn"

	"github.com/vauth/vauth/attestation"
	"github.com/vauth/vauth/internal/daemon"
	"github.com/vauth/vauth/internal/demo"
	"github.com/vauth/vauth/internal/mds"
	"github.com/vauth/vauth/internal/presence"
	"github.com/vauth/vauth/keystore/tpm"
	"github.com/vauth/vauth/keystore/tpm/tpmtest"
)

// openSoft opens a daemon on a new soft store with the attestation kind.
func openSoft(t *testing.T, kind string, aaguid [16]byte) *daemon.Daemon {
	t.Helper()
	return openSoftWith(t, daemon.Options{Attestation: kind, AAGUID: aaguid})
}

// openSoftWith opens a daemon with opts on a new soft store, presence
// always given.
func openSoftWith(t *testing.T, opts daemon.Options) *daemon.Daemon {
	t.Helper()
	opts.Store, opts.Keystore, opts.Presence = t.TempDir(), daemon.BackendSoft, presence.Always()
	d, err := daemon.Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// openTPM opens a daemon on a TPM store on the simulator, tpm attestation.
func openTPM(t *testing.T) *daemon.Daemon {
	t.Helper()
	ks, err := tpm.Open(t.TempDir(), tpm.Options{TPM: tpmtest.Simulator(t)})
	if err != nil {
		t.Fatal(err)
	}
	d, err := daemon.New(ks, daemon.Options{Attestation: attestation.KindTPM, Presence: presence.Always()})
	if err != nil {
		ks.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// loadBLOB is what a relying party does with the BLOB: verify it against
// the root it trusts and parse it (go-webauthn's metadata package).
func loadBLOB(t *testing.T, blob []byte, root string) (*metadata.Metadata, error) {
	t.Helper()
	dec, err := metadata.NewDecoder(metadata.WithRootCertificate(root))
	if err != nil {
		t.Fatal(err)
	}
	payload, err := dec.DecodeBytes(blob)
	if err != nil {
		return nil, err
	}
	return dec.Parse(payload)
}

func rootOf(t *testing.T, d *daemon.Daemon) string {
	t.Helper()
	ca, err := mds.Root(d.Keystore)
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(ca.Certificate().Raw)
}

// register runs a registration with direct attestation at a go-webauthn
// relying party that enforces the metadata with every check it has.
func register(t *testing.T, d *daemon.Daemon, md *metadata.Metadata) error {
	t.Helper()
	provider, err := memory.New(memory.WithMetadata(md.ToMap()),
		memory.WithValidateAAGUID(true), memory.WithValidateAttestationFormats(true), memory.WithValidateAlgorithms(true),
		memory.WithValidateBackupEligibility(true), memory.WithValidateExtensions(true), memory.WithValidateUserVerification(true))
	if err != nil {
		t.Fatal(err)
	}
	w, err := gowebauthn.New(&gowebauthn.Config{RPID: demo.RPID, RPDisplayName: "mds test", RPOrigins: []string{demo.Origin}, MDS: provider})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c, err := demo.Connect(ctx, d, demo.Origin)
	if err != nil {
		t.Fatal(err)
	}
	rp := &demo.RP{WebAuthn: w}
	_, err = rp.Register(ctx, c, &demo.User{ID: []byte("user-1"), Name: "alice", DisplayName: "Alice"},
		gowebauthn.WithConveyancePreference(protocol.PreferDirectAttestation))
	return err
}

// TestGoWebAuthnEnforcesBLOB: go-webauthn trusts vauth's BLOB root, loads
// the BLOB, and with attestation enforced accepts vauth's packed and tpm
// attestation, and rejects it when the entry is revoked, when the AAGUID
// is missing from the BLOB, and when the attestation chains to another CA.
func TestGoWebAuthnEnforcesBLOB(t *testing.T) {
	other := attestation.Presets[1].AAGUID
	own := attestation.FormatAAGUID(attestation.DefaultAAGUID)
	tests := []struct {
		name     string
		tpm      bool
		settings mds.Settings
		// foreign: the BLOB comes from another store (same AAGUID, another
		// attestation CA), whose root the relying party trusts.
		foreign bool
		wantErr string
	}{
		{name: "packed accepted"},
		{name: "packed certified", settings: mds.Settings{Status: map[string]string{own: "FIDO_CERTIFIED_L1"}}},
		{name: "tpm accepted", tpm: true},
		{name: "packed revoked", settings: mds.Settings{Status: map[string]string{own: "REVOKED"}}, wantErr: "REVOKED"},
		{name: "tpm revoked", tpm: true, settings: mds.Settings{Status: map[string]string{"vauth": "REVOKED"}}, wantErr: "REVOKED"},
		{name: "uv bypass", settings: mds.Settings{Status: map[string]string{own: "USER_VERIFICATION_BYPASS"}}, wantErr: "USER_VERIFICATION_BYPASS"},
		{name: "aaguid missing", settings: mds.Settings{AAGUIDs: []string{attestation.FormatAAGUID(other)}}, wantErr: "has no registered metadata"},
		{name: "tpm aaguid missing", tpm: true, settings: mds.Settings{AAGUIDs: []string{"yubikey-5"}}, wantErr: "has no registered metadata"},
		{name: "untrusted attestation", foreign: true, wantErr: "trust chain"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var d *daemon.Daemon
			if tc.tpm {
				d = openTPM(t)
			} else {
				d = openSoft(t, attestation.KindPacked, attestation.DefaultAAGUID)
			}
			source := d
			if tc.foreign {
				source = openSoft(t, attestation.KindPacked, attestation.DefaultAAGUID)
			}
			blob, err := mds.BLOB(context.Background(), source, tc.settings, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			md, err := loadBLOB(t, blob, rootOf(t, source))
			if err != nil {
				t.Fatalf("go-webauthn rejected the BLOB: %v", err)
			}
			err = register(t, d, md)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("registration refused: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("registration: %v; want an error with %q", err, tc.wantErr)
			}
		})
	}
}

// TestBLOBRoot: a BLOB verifies only against the root of its store, and
// the root survives restarts.
func TestBLOBRoot(t *testing.T) {
	a := openSoft(t, attestation.KindPacked, attestation.DefaultAAGUID)
	b := openSoft(t, attestation.KindPacked, attestation.DefaultAAGUID)
	blob, err := mds.BLOB(context.Background(), a, mds.Settings{}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	// The root is kept in the store: the same after a restart.
	dir := t.TempDir()
	opts := daemon.Options{Store: dir, Keystore: daemon.BackendSoft, Presence: presence.Always()}
	var roots []string
	for range 2 {
		d, err := daemon.Open(opts)
		if err != nil {
			t.Fatal(err)
		}
		roots = append(roots, rootOf(t, d))
		d.Close()
	}
	if roots[0] != roots[1] {
		t.Fatal("the BLOB root changed across a restart")
	}
	if _, err := loadBLOB(t, blob, rootOf(t, a)); err != nil {
		t.Fatalf("own root: %v", err)
	}
	if _, err := loadBLOB(t, blob, rootOf(t, b)); err == nil {
		t.Fatal("the BLOB verified against another store's root")
	}
	if _, err := loadBLOB(t, blob, metadata.ProductionMDSRoot); err == nil {
		t.Fatal("the BLOB verified against the FIDO Alliance's root")
	}
}
