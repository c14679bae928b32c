package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/vauth/vauth/ctap2"
	"github.com/vauth/vauth/ctap2/client"
	"github.com/vauth/vauth/ctap2/pinuv"
	"github.com/vauth/vauth/hid"
	"github.com/vauth/vauth/hid/socket"
)

// deviceTarget is any security key — a hardware one, or vauth itself —
// spoken to over CTAP2 as a platform does: credential management with a
// pinUvAuthToken got with the PIN.
type deviceTarget struct {
	spec string
	hc   *hid.Client
	ctap *client.Client
	info *client.Info
	pins *pinSource
	// touch tells the user once per command that the key waits for a
	// touch.
	touch     io.Writer
	touchOnce sync.Once
	cm        *client.CredentialManagement
}

// openDevice opens --device: /dev/hidrawN or unix:PATH.
func openDevice(ctx context.Context, spec string, pins *pinSource) (target, error) {
	var tr hid.Transport
	var err error
	if path, ok := strings.CutPrefix(spec, "unix:"); ok {
		if path == "" {
			return nil, usageError{errors.New("--device unix: needs a socket path")}
		}
		tr, err = socket.Dial(path)
	} else {
		tr, err = openHidraw(spec)
	}
	if err != nil {
		return nil, fmt.Errorf("--device %s: %w", spec, err)
	}
	hc, err := hid.NewClient(tr)
	if err != nil {
		tr.Close()
		return nil, fmt.Errorf("--device %s: %w", spec, err)
	}
	t := &deviceTarget{spec: spec, hc: hc, ctap: client.New(hc), pins: pins, touch: pins.out}
	t.ctap.OnKeepalive = func(status byte) {
		if status == hid.StatusUpNeeded {
			t.touchOnce.Do(func() { fmt.Fprintln(t.touch, "Touch the security key to confirm.") })
		}
	}
	if t.info, err = t.ctap.GetInfo(ctx); err != nil {
		hc.Close()
		return nil, fmt.Errorf("--device %s: getInfo: %w", spec, err)
	}
	return t, nil
}

func (t *deviceTarget) where() string { return t.spec }

func (t *deviceTarget) Close() error { return t.hc.Close() }

func (t *deviceTarget) option(name string) bool { return t.info.Options[name] }

// credMgmt returns credential management with a token that has the cm
// permission, getting the PIN (once) as the source gives it.
func (t *deviceTarget) credMgmt(ctx context.Context) (*client.CredentialManagement, error) {
	if t.cm != nil {
		return t.cm, nil
	}
	preview := !t.option("credMgmt")
	if preview && !t.option("credentialMgmtPreview") {
		return nil, fmt.Errorf("%s does not support credential management (CTAP 2.1), so its credentials cannot be listed or changed", t.spec)
	}
	if !t.option("clientPin") {
		return nil, statusError{exitPIN, fmt.Errorf("%s has no PIN, and credential management needs one: set it with `vauth pin set --device %s`", t.spec, t.spec)}
	}
	if t.info.ForcePINChange {
		// The key would answer even the right PIN with CTAP2_ERR_PIN_INVALID.
		return nil, statusError{exitPIN, fmt.Errorf("%s wants its PIN changed before it is used: `vauth pin change --device %s`", t.spec, t.spec)}
	}
	pin, err := t.pins.get(fmt.Sprintf("PIN of %s: ", t.spec))
	if err != nil {
		return nil, err
	}
	var tok *client.Token
	if t.option("pinUvAuthToken") {
		tok, err = t.ctap.GetPinUvAuthTokenUsingPIN(ctx, 0, pin, pinuv.PermissionCM, "")
	} else {
		tok, err = t.ctap.GetPinToken(ctx, 0, pin)
	}
	if err != nil {
		return nil, withRetries(ctx, ctapRetries(t.ctap), pinError(err))
	}
	t.cm = &client.CredentialManagement{Client: t.ctap, Token: tok, Preview: preview}
	return t.cm, nil
}

func (t *deviceTarget) describe(ctx context.Context, r *infoReport) error {
	r.setInfo(t.info)
	r.Device = t.spec
	r.Keystore = "device"
	st, err := t.pinStatus(ctx)
	if err != nil {
		return err
	}
	r.PIN = &st
	// Counting needs credential management, so the PIN: only when it is
	// given without asking, so that `vauth info` never prompts.
	if !t.pins.available() || !t.option("clientPin") {
		return nil
	}
	all, err := t.credentials(ctx)
	if err != nil {
		return err
	}
	r.count(all)
	return nil
}

func (t *deviceTarget) credentials(ctx context.Context) ([]credential, error) {
	cm, err := t.credMgmt(ctx)
	if err != nil {
		return nil, err
	}
	rps, err := cm.RPs(ctx)
	if err != nil {
		return nil, fmt.Errorf("enumerating RPs: %w", err)
	}
	var out []credential
	for _, rp := range rps {
		creds, err := cm.Credentials(ctx, rp.RPIDHash)
		if err != nil {
			return nil, fmt.Errorf("enumerating the credentials of %s: %w", rp.RP.ID, err)
		}
		for _, mc := range creds {
			c := credential{
				RPID: rp.RP.ID, RPIDHash: b64(rp.RPIDHash), UserID: b64(mc.User.ID), UserName: mc.User.Name, UserDisplayName: mc.User.DisplayName,
				ID: b64(mc.CredentialID.ID), Backend: "device", CredProtect: max(mc.CredProtect, 1), Discoverable: true,
				LargeBlobKey: len(mc.LargeBlobKey) > 0,
			}
			if c.RPID == "" {
				c.RPID = fmt.Sprintf("(rpIdHash %x)", rp.RPIDHash)
			}
			if err := c.setKey(mc.PublicKey); err != nil {
				return nil, fmt.Errorf("credential %s: %w", c.ID, err)
			}
			out = append(out, c)
		}
	}
	return out, nil
}

func (t *deviceTarget) deleteCredential(ctx context.Context, c credential) error {
	cm, err := t.credMgmt(ctx)
	if err != nil {
		return err
	}
	err = cm.DeleteCredential(ctx, c.ID)
	var se *ctap2.StatusError
	if errors.As(err, &se) && se.Status == ctap2.CTAP2ErrNoCredentials {
		return statusError{exitNotFound, fmt.Errorf("no credential with ID %s on %s", c.ID, t.spec)}
	}
	return err
}

func (t *deviceTarget) updateUser(ctx context.Context, c credential, name, displayName string) error {
	cm, err := t.credMgmt(ctx)
	if err != nil {
		return err
	}
	return cm.UpdateUser(ctx, c.ID, client.UserEntity{ID: c.UserID, Name: name, DisplayName: displayName})
}

func (t *deviceTarget) pinStatus(ctx context.Context) (pinStatus, error) {
	st := pinStatus{Set: t.option("clientPin"), ForceChange: t.info.ForcePINChange, MinLength: t.info.MinPINLength, AlwaysUV: t.option("alwaysUv")}
	if st.MinLength == 0 {
		st.MinLength = pinuv.MinPINLength // CTAP 2.0 keys do not say: the default
	}
	if st.Set {
		var err error
		if st.Retries, st.PowerCycleRequired, err = t.ctap.PINRetries(ctx); err != nil {
			return st, fmt.Errorf("getPINRetries: %w", err)
		}
	}
	if _, hasUV := t.info.Options["uv"]; hasUV {
		if n, err := t.ctap.UVRetries(ctx); err == nil {
			st.UVRetries = &n
		}
	}
	return st, nil
}

func (t *deviceTarget) setPIN(ctx context.Context, pin string) error {
	return t.ctap.SetPIN(ctx, 0, pin)
}

func (t *deviceTarget) changePIN(ctx context.Context, oldPIN, newPIN string) error {
	return withRetries(ctx, ctapRetries(t.ctap), pinError(t.ctap.ChangePIN(ctx, 0, oldPIN, newPIN)))
}

func (t *deviceTarget) reset(ctx context.Context) error {
	err := t.ctap.Reset(ctx)
	var se *ctap2.StatusError
	if errors.As(err, &se) && se.Status == ctap2.CTAP2ErrNotAllowed {
		return fmt.Errorf("%s refuses to reset now: a key allows it only within seconds of being plugged in. Unplug it (or restart vauth run), plug it in and run vauth reset again at once", t.spec)
	}
	if errors.As(err, &se) && (se.Status == ctap2.CTAP2ErrOperationDenied || se.Status == ctap2.CTAP2ErrUserActionTimeout) {
		return fmt.Errorf("reset not confirmed on the key: %w", err)
	}
	return err
}
