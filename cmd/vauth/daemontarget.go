package main

import (
	"context"
	"crypto/sha256"
	"errors"
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
		out = append(out, credential{
			RPID: c.RPID, RPIDHash: b64(hash[:]), UserID: b64(c.UserHandle), UserName: c.UserName, UserDisplayName: c.UserDisplayName,
			ID: b64(c.CredentialID), Algorithm: c.Algorithm, AlgorithmName: decode.AlgorithmName(c.Algorithm),
			Backend: t.info.Keystore, CredProtect: max(int(c.CredProtect), 1), Discoverable: c.IsResidentCredential,
			Created: c.Created, LastUsed: c.LastUsed, SignCount: &n,
		})
	}
	return out, nil
}

func (t *daemonTarget) deleteCredential(ctx context.Context, c credential) error {
	err := t.c.RemoveCredential(ctx, c.ID)
	if errors.Is(err, control.ErrNotFound) {
		return statusError{exitNotFound, fmt.Errorf("no credential with ID %s", c.ID)}
	}
	return err
}

// errDaemonCannot says what the control API does not offer yet.
func errDaemonCannot(what, dir string) error {
	return fmt.Errorf("the control API of the running vauth cannot %s: stop `vauth run` on %s and run this again, or use --device with its hidraw node or virtual cable", what, dir)
}

func (t *daemonTarget) updateUser(context.Context, credential, string, string) error {
	return errDaemonCannot("rename credentials", t.dir)
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

func (t *daemonTarget) changePIN(context.Context, string, string) error {
	return errDaemonCannot("check the current PIN", t.dir)
}

func (t *daemonTarget) reset(ctx context.Context) error {
	return t.c.Reset(ctx)
}
