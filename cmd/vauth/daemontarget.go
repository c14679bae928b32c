package main

import (
	"context"
	"crypto/sha256"
	"fmt"

	"github.com/vauth/vauth/internal/control"
	"github.com/vauth/vauth/internal/decode"
)

// daemonTarget is a running `vauth run` reached through the control socket
// in its store: the daemon holds the store, so the CLI asks it.
type daemonTarget struct {
	dir  string
	c    *control.Client
	info control.Info
}

func (t *daemonTarget) where() string { return "the running vauth on " + t.dir }

func (t *daemonTarget) Close() error { return nil }

func (t *daemonTarget) describe(ctx context.Context, r *infoReport) error {
	r.Store, r.Keystore, r.AAGUID, r.Daemon = t.dir, t.info.Keystore, t.info.AAGUID, true
	r.setProfile(t.info.Profile)
	r.Algorithms, r.KeystoreAlgorithms = t.info.Algorithms, t.info.KeystoreAlgorithms
	all, err := t.credentials(ctx)
	if err != nil {
		return err
	}
	r.count(all)
	st := pinFromControl(t.info.PIN)
	r.PIN = &st
	return nil
}

func (t *daemonTarget) credentials(ctx context.Context) ([]credential, error) {
	all, err := t.c.Credentials(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]credential, 0, len(all))
	for _, c := range all {
		n, hash := c.SignCount, sha256.Sum256([]byte(c.RPID))
		cred := credential{
			RPID: c.RPID, RPIDHash: b64(hash[:]), UserID: b64(c.UserHandle), UserName: c.UserName, UserDisplayName: c.UserDisplayName,
			ID: b64(c.CredentialID), Algorithm: c.Algorithm, AlgorithmName: decode.AlgorithmName(c.Algorithm),
			Backend: t.info.Keystore, CredProtect: max(int(c.CredProtect), 1), Discoverable: c.IsResidentCredential,
			Created: c.Created, LastUsed: c.LastUsed, SignCount: &n,
		}
		if err := cred.setKey(c.PublicKey); err != nil {
			return nil, fmt.Errorf("credential %s: %w", cred.ID, err)
		}
		out = append(out, cred)
	}
	return out, nil
}

func (t *daemonTarget) deleteCredential(ctx context.Context, c credential) error {
	return credentialNotFound(c, t.c.RemoveCredential(ctx, c.ID))
}

func (t *daemonTarget) updateUser(ctx context.Context, c credential, name, displayName string) error {
	return credentialNotFound(c, t.c.UpdateUser(ctx, c.ID, control.UpdateUser{UserName: &name, UserDisplayName: &displayName}))
}

func (t *daemonTarget) pinStatus(ctx context.Context) (pinStatus, error) {
	st, err := t.c.PIN(ctx)
	if err != nil {
		return pinStatus{}, err
	}
	return pinFromControl(st), nil
}

func pinFromControl(s control.PINState) pinStatus {
	return pinStatus{Set: s.PINSet, Retries: s.PINRetries, ForceChange: s.ForcePINChange, MinLength: s.MinPINLength, AlwaysUV: s.AlwaysUV}
}

func (t *daemonTarget) setPIN(ctx context.Context, pin string) error {
	return t.c.SetPIN(ctx, control.PINChange{PIN: &pin})
}

func (t *daemonTarget) changePIN(ctx context.Context, oldPIN, newPIN string) error {
	return withRetries(ctx, t.pinRetries, pinError(t.c.ChangePIN(ctx, oldPIN, newPIN)))
}

// pinRetries is the PIN attempts left, as the control API tells.
func (t *daemonTarget) pinRetries(ctx context.Context) (int, error) {
	st, err := t.c.PIN(ctx)
	return st.PINRetries, err
}

func (t *daemonTarget) reset(ctx context.Context) error {
	return t.c.Reset(ctx)
}
