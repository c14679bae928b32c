package main

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/vauth/vauth/attestation"
	"github.com/vauth/vauth/internal/control"
	"github.com/vauth/vauth/internal/daemon"
	"github.com/vauth/vauth/internal/decode"
	"github.com/vauth/vauth/keystore"
)

// target is an authenticator that the CLI inspects and manages: the store
// opened directly (storeTarget), a running `vauth run` through its control
// socket (daemonTarget), or any security key over CTAP2 (deviceTarget).
// info, creds, pin and reset are written against it alone.
type target interface {
	// describe fills what it knows of the authenticator into r.
	describe(ctx context.Context, r *infoReport) error
	// credentials lists the discoverable credentials.
	credentials(ctx context.Context) ([]credential, error)
	deleteCredential(ctx context.Context, c credential) error
	// updateUser renames the user of a credential (updateUserInformation).
	updateUser(ctx context.Context, c credential, name, displayName string) error
	pinStatus(ctx context.Context) (pinStatus, error)
	// setPIN sets the first PIN; changePIN replaces one.
	setPIN(ctx context.Context, pin string) error
	changePIN(ctx context.Context, oldPIN, newPIN string) error
	// reset erases the authenticator.
	reset(ctx context.Context) error
	// where says what the target is, for messages.
	where() string
	Close() error
}

// credential is a discoverable credential as the CLI shows it. Members a
// target does not know (a hardware key keeps no creation time) are nil.
type credential struct {
	RPID            string      `json:"rpId"`
	RPIDHash        b64         `json:"rpIdHash"`
	UserID          b64         `json:"userId"`
	UserName        string      `json:"userName"`
	UserDisplayName string      `json:"userDisplayName"`
	ID              b64         `json:"credentialId"`
	Algorithm       int         `json:"alg,omitempty"`
	AlgorithmName   string      `json:"algName,omitempty"`
	Backend         string      `json:"backend"`
	CredProtect     int         `json:"credProtect"`
	Discoverable    bool        `json:"discoverable"`
	Created         *time.Time  `json:"created,omitempty"`
	LastUsed        *time.Time  `json:"lastUsed,omitempty"`
	SignCount       *uint32     `json:"signCount,omitempty"`
	LargeBlobKey    bool        `json:"largeBlobKey,omitempty"`
	PublicKey       *decode.Key `json:"publicKey,omitempty"`
}

// b64 is binary data, unpadded base64url in JSON and on the command line.
type b64 []byte

// MarshalText encodes b as unpadded base64url.
func (b b64) MarshalText() ([]byte, error) {
	return []byte(base64.RawURLEncoding.EncodeToString(b)), nil
}

// UnmarshalText decodes unpadded base64url.
func (b *b64) UnmarshalText(text []byte) error {
	v, err := base64.RawURLEncoding.DecodeString(string(text))
	*b = v
	return err
}

func (b b64) String() string { return base64.RawURLEncoding.EncodeToString(b) }

// short is the credential ID's short form in tables: enough base64url
// characters to tell credentials apart, and to name one on the command
// line.
func (c credential) short() string {
	s := c.ID.String()
	if len(s) > shortIDLen {
		return s[:shortIDLen]
	}
	return s
}

const shortIDLen = 12

// setKey fills the public key's forms from its COSE_Key, with the OpenSSH
// line of an ssh: credential.
func (c *credential) setKey(coseKey []byte) error {
	k, err := decode.ParseCOSEKey(coseKey)
	if err != nil {
		return err
	}
	k.SetSSH(c.RPID, c.UserName)
	c.PublicKey = k
	if c.Algorithm == 0 {
		c.Algorithm = k.Algorithm
	}
	c.AlgorithmName = decode.AlgorithmName(c.Algorithm)
	return nil
}

// pinStatus is the PIN state as `vauth pin status` shows it.
type pinStatus struct {
	Set     bool `json:"set"`
	Retries int  `json:"retries"`
	// PowerCycleRequired: three wrong PINs in a row; the authenticator
	// must be replugged (vauth: restarted) before the next attempt.
	PowerCycleRequired bool `json:"powerCycleRequired,omitempty"`
	UVRetries          *int `json:"uvRetries,omitempty"`
	ForceChange        bool `json:"forceChange"`
	MinLength          int  `json:"minLength"`
	AlwaysUV           bool `json:"alwaysUv"`
}

// targetFlags choose the target of a command.
type targetFlags struct {
	device  string
	pinFile string
	// auth opens the store: for info all of its flags (the authenticator
	// `vauth run` would serve), for the others only --tpm.
	auth    authFlags
	allAuth bool
}

func (f *targetFlags) register(cmd *cobra.Command) {
	cmd.PersistentFlags().StringVar(&f.device, "device", "", "a security key instead of vauth's store: /dev/hidrawN, or unix:PATH for a virtual cable (CTAP2; needs the key's PIN)")
	cmd.PersistentFlags().StringVar(&f.pinFile, "pin-file", "", "read the PIN from this file (first line) instead of asking; also "+pinEnv)
	if f.allAuth {
		f.auth.register(cmd)
		return
	}
	f.auth.keystore, f.auth.uv, f.auth.aaguid = daemon.BackendAuto, "never", attestation.FormatAAGUID(attestation.DefaultAAGUID)
	cmd.PersistentFlags().StringVar(&f.auth.tpm, "tpm", "", "the TPM of a TPM store: a device (default /dev/tpmrm0) or tcp:HOST:PORT")
}

// open returns the command's target: --device, else the running daemon of
// the store when its control socket answers, else the store itself. A
// store held by a daemon whose control socket does not answer is an
// exitInUse error. mustExist refuses to create a store that is not there.
func (f *targetFlags) open(cmd *cobra.Command, g *globals, mustExist bool) (target, error) {
	ctx := cmd.Context()
	if f.device != "" {
		return openDevice(ctx, f.device, f.pins(cmd))
	}
	opts, err := f.auth.options(g)
	if err != nil {
		return nil, err
	}
	if t, err := dialDaemon(ctx, opts.Store); t != nil || err != nil {
		return t, err
	}
	if _, err := os.Stat(filepath.Join(opts.Store, storeFile)); mustExist && err != nil {
		return nil, fmt.Errorf("no store at %s (nothing was ever registered there; give --store?)", opts.Store)
	}
	if !f.allAuth {
		opts.Attestation = attestation.KindNone // the CLI registers nothing: no CA or TPM attestation key to prepare
	}
	return openStore(opts)
}

// openDescribed opens the command's target as open does and describes it;
// the caller closes the target.
func (f *targetFlags) openDescribed(cmd *cobra.Command, g *globals, mustExist bool) (target, infoReport, error) {
	var r infoReport
	t, err := f.open(cmd, g, mustExist)
	if err != nil {
		return nil, r, err
	}
	if err := t.describe(cmd.Context(), &r); err != nil {
		t.Close()
		return nil, r, err
	}
	return t, r, nil
}

// openCredentials opens the command's target, which must exist, and lists
// its discoverable credentials; the caller closes the target.
func (f *targetFlags) openCredentials(cmd *cobra.Command, g *globals) (target, []credential, error) {
	t, err := f.open(cmd, g, true)
	if err != nil {
		return nil, nil, err
	}
	all, err := t.credentials(cmd.Context())
	if err != nil {
		t.Close()
		return nil, nil, err
	}
	return t, all, nil
}

// openCredential opens the command's target as openCredentials does and
// finds the credential that ref names (see findCredential); the caller
// closes the target.
func (f *targetFlags) openCredential(cmd *cobra.Command, g *globals, ref string) (target, credential, error) {
	t, all, err := f.openCredentials(cmd, g)
	if err != nil {
		return nil, credential{}, err
	}
	c, err := findCredential(all, ref)
	if err != nil {
		t.Close()
		return nil, credential{}, err
	}
	return t, c, nil
}

// pins is where the PIN comes from.
func (f *targetFlags) pins(cmd *cobra.Command) *pinSource {
	return &pinSource{file: f.pinFile, env: os.Getenv(pinEnv), in: cmd.InOrStdin(), out: cmd.ErrOrStderr()}
}

// findCredential picks the credential that ref names: its ID in base64url,
// or an unambiguous prefix of it of at least four characters.
func findCredential(all []credential, ref string) (credential, error) {
	ref = strings.TrimRight(ref, "=")
	if len(ref) < 4 {
		return credential{}, usageError{fmt.Errorf("credential ID %q: give at least 4 characters of it", ref)}
	}
	var found []credential
	for _, c := range all {
		if id := c.ID.String(); id == ref {
			return c, nil
		} else if strings.HasPrefix(id, ref) {
			found = append(found, c)
		}
	}
	switch len(found) {
	case 0:
		return credential{}, statusError{exitNotFound, fmt.Errorf("no credential with ID %s", ref)}
	case 1:
		return found[0], nil
	}
	return credential{}, usageError{fmt.Errorf("credential ID %s is ambiguous: %d credentials start with it; give more of it", ref, len(found))}
}

// credentialNotFound makes the not found of the authenticator
// (keystore.ErrNotFound) or of the control API for credential c an
// exitNotFound error.
func credentialNotFound(c credential, err error) error {
	if errors.Is(err, keystore.ErrNotFound) || errors.Is(err, control.ErrNotFound) {
		return statusError{exitNotFound, fmt.Errorf("no credential with ID %s", c.ID)}
	}
	return err
}

// credentialsOf lists the credentials of one RP.
func credentialsOf(all []credential, rpID string) []credential {
	var out []credential
	for _, c := range all {
		if c.RPID == rpID {
			out = append(out, c)
		}
	}
	return out
}
