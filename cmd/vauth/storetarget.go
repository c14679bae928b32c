package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/vauth/vauth/ctap2/client"
	"github.com/vauth/vauth/internal/control"
	"github.com/vauth/vauth/internal/daemon"
	"github.com/vauth/vauth/internal/decode"
	"github.com/vauth/vauth/internal/presence"
	"github.com/vauth/vauth/keystore"
)

// storeTarget is the store opened directly, when no daemon runs on it: the
// keystore for listings, the authenticator in-process (client.Direct) for
// PIN changes, so that they follow CTAP exactly. Deletions, renames and
// resets go through the authenticator too, as credential management's
// would, so the audit log records deletions and resets.
type storeTarget struct {
	dir  string
	d    *daemon.Daemon
	ctap *client.Client
}

// storeFile is the store's database: the store exists when it does.
const storeFile = "store.db"

// openStore opens the store that opts name, under its lock, with the audit
// log. The CLI has asked the user before anything that needs their
// presence, so presence is granted.
func openStore(opts daemon.Options) (target, error) {
	opts.Presence, opts.AuditLog = presence.Always(), true
	d, err := daemon.Open(opts)
	if errors.Is(err, keystore.ErrInUse) {
		return nil, statusError{exitInUse, fmt.Errorf("%w, and its control socket %s does not answer: stop that vauth, or reach it as a security key with --device",
			err, filepath.Join(opts.Store, control.SocketName))}
	}
	if err != nil {
		return nil, err
	}
	return &storeTarget{dir: opts.Store, d: d, ctap: client.New(client.Direct(d.Authenticator))}, nil
}

func (t *storeTarget) where() string { return "the store " + t.dir }

func (t *storeTarget) Close() error { return t.d.Close() }

func (t *storeTarget) describe(ctx context.Context, r *infoReport) error {
	r.setProfile(t.d.Authenticator.Profile().String())
	if t.d.Authenticator.ServesCBOR() { // a U2F-only key has no getInfo
		inf, err := t.ctap.GetInfo(ctx)
		if err != nil {
			return err
		}
		r.setInfo(inf)
	}
	r.Store, r.Keystore = t.dir, t.d.Keystore.Backend()
	r.TPM = tpmOf(t.d.Keystore)
	for _, a := range t.d.Keystore.Algorithms() {
		r.KeystoreAlgorithms = append(r.KeystoreAlgorithms, keystore.AlgorithmName(a))
	}
	all, err := t.credentials(ctx)
	if err != nil {
		return err
	}
	r.count(all)
	st, err := t.pinStatus(ctx)
	if err != nil {
		return err
	}
	r.PIN = &st
	return nil
}

func (t *storeTarget) credentials(context.Context) ([]credential, error) {
	all, err := t.d.Keystore.All()
	if err != nil {
		return nil, err
	}
	usage, _ := t.d.Keystore.(keystore.UsageReader)
	out := make([]credential, 0, len(all))
	for _, c := range all {
		out = append(out, fromKeystore(c, t.d.Keystore.Backend(), usage))
	}
	return out, nil
}

// fromKeystore describes a keystore credential, with its counter and last
// use when the keystore keeps them.
func fromKeystore(c *keystore.Credential, backend string, usage keystore.UsageReader) credential {
	out := credential{
		RPID: c.RPID, RPIDHash: b64(c.RPIDHash[:]), UserID: b64(c.User.ID), UserName: c.User.Name, UserDisplayName: c.User.DisplayName,
		ID: b64(c.ID), Algorithm: c.Algorithm, AlgorithmName: decode.AlgorithmName(c.Algorithm),
		Backend: backend, CredProtect: max(int(c.CredProtect), 1), Discoverable: c.Discoverable,
	}
	if !c.Created.IsZero() {
		created := c.Created
		out.Created = &created
	}
	if usage != nil {
		if n, last, err := usage.Usage(c.ID); err == nil {
			out.SignCount = &n
			if !last.IsZero() {
				out.LastUsed = &last
			}
		}
	}
	if k, err := decode.KeyFromPublic(c.PublicKey, c.Algorithm); err == nil {
		k.SetSSH(c.RPID, c.User.Name)
		out.PublicKey = k
	}
	return out
}

func (t *storeTarget) deleteCredential(_ context.Context, c credential) error {
	return credentialNotFound(c, t.d.Authenticator.DeleteCredential(c.ID))
}

func (t *storeTarget) updateUser(_ context.Context, c credential, name, displayName string) error {
	return credentialNotFound(c, t.d.Authenticator.UpdateUser(c.ID, &name, &displayName))
}

func (t *storeTarget) pinStatus(context.Context) (pinStatus, error) {
	s := t.d.Authenticator.PINStatus()
	st := pinStatus{Set: s.PINSet, Retries: s.PINRetries, ForceChange: s.ForcePINChange, MinLength: s.MinPINLength, AlwaysUV: s.AlwaysUV}
	return st, nil
}

func (t *storeTarget) setPIN(ctx context.Context, pin string) error {
	return t.ctap.SetPIN(ctx, 0, pin)
}

func (t *storeTarget) changePIN(ctx context.Context, oldPIN, newPIN string) error {
	return withRetries(ctx, ctapRetries(t.ctap), pinError(t.ctap.ChangePIN(ctx, 0, oldPIN, newPIN)))
}

// reset erases the store as authenticatorReset does, but without its
// 10-second window after power-up: the window keeps a plugged-in key from
// being erased behind its owner's back, and here the owner, who can open
// the store, has just confirmed (which may take longer than 10 seconds).
func (t *storeTarget) reset(context.Context) error {
	return t.d.Authenticator.Reset()
}

// dialDaemon returns the target of the daemon running on the store in
// dir, when its control socket answers; nil when no daemon serves it.
func dialDaemon(ctx context.Context, dir string) (target, error) {
	c, err := control.Dial(dir)
	if err != nil {
		return nil, nil // no socket: no daemon
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	inf, err := c.Info(ctx)
	if err != nil {
		return nil, nil // a socket left behind: the store's lock tells
	}
	return &daemonTarget{dir: dir, c: c, info: inf}, nil
}
