// Package daemon assembles an authenticator from its parts: the store
// directory and keystore, the attestation, the presence prompt, the CTAP2
// state machine and the CTAPHID device. `vauth run`, `vauth demo` and the
// test fixture all build their authenticator here, so they behave alike.
package daemon

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/vauth/vauth/attestation"
	"github.com/vauth/vauth/ctap2"
	"github.com/vauth/vauth/hid"
	"github.com/vauth/vauth/internal/audit"
	"github.com/vauth/vauth/keystore"
)

// Options configure an authenticator. The zero value is not usable: Store
// and Presence are required.
type Options struct {
	Store       string // store directory
	Keystore    string // tpm, soft or auto (default auto): see openKeystore
	TPM         string // the TPM for the tpm keystore: a device path or tcp:HOST:PORT
	Attestation string // none, self, packed or tpm (default: tpm on a TPM store, else packed)
	AAGUID      [16]byte
	Presence    ctap2.Presence
	UV          ctap2.Presence // built-in user verification; nil: none (ctap2.Config.UV)
	Clock       ctap2.Clock
	Logger      *slog.Logger
	Observer    ctap2.Observer // told of credential events (ctap2.Config.Observer); the control API sets it
	Faults      *ctap2.Faults  // failures armed on purpose (ctap2.Config.Faults); the control API sets it
	MaxMsgSize  int            // the largest CTAP message to accept and report; 0: ctap2's default
	Profile     ctap2.Profile  // the generation of authenticator to behave as (ctap2.Config.Profile)
	// Algorithms restricts and orders the COSE algorithms offered for new
	// credentials (ctap2.Config.Algorithms); nil: all the keystore makes.
	Algorithms []int
	// RSABits is the size of new RSA keys on the soft keystore
	// (soft.Options.RSABits): 2048 (0 means this) or 3072.
	RSABits int
	// EnterpriseRPIDs, when set, make the authenticator enterprise
	// attestation capable (ep, once a platform enables it): these RPs get a
	// uniquely identifying statement in the vendor-facilitated mode, any RP
	// in the platform-managed mode.
	EnterpriseRPIDs []string
	// AuditLog appends every credential event to the store's audit log
	// (internal/audit), besides passing it to Observer: vauth run and the
	// CLI's changes to a store set it.
	AuditLog bool
	// Transport names the transport served ("hybrid"), in audit records
	// and as getInfo's transports; empty for USB HID and the virtual cable.
	Transport string
}

// Daemon is an open authenticator with its store.
type Daemon struct {
	// Attestation is the attestation kind in effect (attestation.Kind*).
	Attestation   string
	Keystore      keystore.Keystore
	Authenticator *ctap2.Authenticator
	Device        *hid.Device
	audit         *audit.Log // nil without Options.AuditLog
}

// DefaultStore is where the store lives unless --store says otherwise:
// $XDG_DATA_HOME/vauth, else ~/.local/share/vauth.
func DefaultStore() (string, error) {
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "vauth"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("no store directory: set --store, XDG_DATA_HOME or HOME: %w", err)
	}
	return filepath.Join(home, ".local", "share", "vauth"), nil
}

// Open opens (creating on first use) the store and builds the authenticator
// on it.
func Open(opts Options) (*Daemon, error) {
	if opts.Store == "" || opts.Presence == nil {
		return nil, errors.New("daemon: Store and Presence are required")
	}
	ks, err := openKeystore(opts, withDefaults(&opts))
	if err != nil {
		return nil, err
	}
	d, err := New(ks, opts)
	if err != nil {
		ks.Close()
		return nil, err
	}
	return d, nil
}

// New builds the authenticator on a keystore already open (Open's, or a
// TPM store on a simulator in tests); Options.Keystore and TPM are not
// used, and Close closes ks.
func New(ks keystore.Keystore, opts Options) (*Daemon, error) {
	if opts.Presence == nil {
		return nil, errors.New("daemon: Presence is required")
	}
	return build(ks, opts, withDefaults(&opts))
}

// withDefaults fills in the default AAGUID and returns the logger to use.
func withDefaults(opts *Options) *slog.Logger {
	if opts.AAGUID == ([16]byte{}) {
		opts.AAGUID = attestation.DefaultAAGUID
	}
	if opts.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return opts.Logger
}

func build(ks keystore.Keystore, opts Options, logger *slog.Logger) (*Daemon, error) {
	if opts.Attestation == "" {
		opts.Attestation = defaultAttestation(ks)
	}
	var ca *attestation.CA
	if opts.Attestation == "packed" || len(opts.EnterpriseRPIDs) > 0 {
		var err error
		if ca, err = attestation.LoadOrCreateCA(ks); err != nil {
			return nil, fmt.Errorf("attestation CA: %w", err)
		}
	}
	att, err := attestation.New(opts.Attestation, opts.AAGUID, ks, ca)
	if err != nil {
		return nil, err
	}
	var log *audit.Log
	if opts.AuditLog {
		if log, err = audit.Open(opts.Store, audit.Options{Logger: logger}); err != nil {
			return nil, err
		}
		opts.Observer = log.Observer(audit.Source{AAGUID: attestation.FormatAAGUID(opts.AAGUID), AttestationFormat: attestationFormat(opts.Attestation), Transport: opts.Transport}, opts.Observer)
	}
	auth, err := ctap2.New(ctap2.Config{
		AAGUID:   opts.AAGUID,
		Keystore: ks,
		Attester: att,
		Presence: opts.Presence,
		UV:       opts.UV,
		Clock:    opts.Clock,
		Logger:   logger,
		Observer: opts.Observer,
		Faults:   opts.Faults,

		MaxMsgSize: opts.MaxMsgSize,
		Transports: transports(opts.Transport),
		Profile:    opts.Profile,
		Algorithms: opts.Algorithms,

		EnterpriseAttestation:      len(opts.EnterpriseRPIDs) > 0,
		EnterpriseAttester:         enterpriseAttester(opts, ks, ca),
		EnterpriseAttestationRPIDs: opts.EnterpriseRPIDs,
	})
	if err != nil {
		return nil, errors.Join(err, log.Close())
	}
	return &Daemon{
		Attestation:   opts.Attestation,
		Keystore:      ks,
		Authenticator: auth,
		Device:        hid.NewDevice(auth, hid.WithLogger(logger)),
		audit:         log,
	}, nil
}

// transports is getInfo's transports for the one served; nil: ctap2's
// default (usb).
func transports(t string) []string {
	if t == "" {
		return nil
	}
	return []string{t}
}

// attestationFormat is the fmt of the statements an attestation kind
// makes.
func attestationFormat(kind string) string {
	if kind == attestation.KindSelf {
		return attestation.FormatPacked
	}
	return kind
}

// Close closes the store and the audit log; serve no transport with the
// device afterwards.
func (d *Daemon) Close() error { return errors.Join(d.Keystore.Close(), d.audit.Close()) }

// serialBlob holds the random device serial, so that the uhid device's
// `uniq` stays the same across restarts of one store and differs between
// stores.
const serialBlob = "device/serial"

// Serial returns the store's stable device serial (16 hex digits), made on
// first use.
func (d *Daemon) Serial() (string, error) {
	b, err := d.Keystore.GetBlob(serialBlob)
	if errors.Is(err, keystore.ErrNotFound) {
		b = make([]byte, 8)
		if _, err := rand.Read(b); err != nil {
			return "", err
		}
		err = d.Keystore.PutBlob(serialBlob, b)
	}
	if err != nil {
		return "", fmt.Errorf("device serial: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// enterpriseAttester is the attester of enterprise attestation, or nil when
// the authenticator offers none.
func enterpriseAttester(opts Options, ks keystore.Keystore, ca *attestation.CA) attestation.Attester {
	if len(opts.EnterpriseRPIDs) == 0 {
		return nil
	}
	return attestation.Enterprise(ca, opts.AAGUID, ks)
}
