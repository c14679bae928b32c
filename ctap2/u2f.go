package ctap2

import (
	"context"
	"fmt"

	"github.com/vauth/vauth/attestation"
	"github.com/vauth/vauth/ctap1"
	"github.com/vauth/vauth/hid"
)

var _ hid.MsgHandler = (*Authenticator)(nil)

// HandleMsg answers a CTAPHID_MSG message, a U2F request APDU, through
// package ctap1, one command at a time with HandleCBOR. U2F registrations
// are non-discoverable credentials of the keystore, so getAssertion uses
// them too. With alwaysUv on, U2F is off (CTAP 2.1 §7.2.4): it cannot
// verify the user. It never panics on any input.
func (a *Authenticator) HandleMsg(ctx context.Context, apdu []byte, _ hid.Keepalive) []byte {
	a.mu.Lock()
	defer a.mu.Unlock()
	// authenticatorGetNextAssertion and the credential management
	// enumerations continue only the command right before them.
	a.assertions = nil
	a.enumeration = nil
	if !a.u2fEnabled() {
		a.log.Debug("U2F request while alwaysUv is on", "status", ctap1.SWINSNotSupported.String())
		return ctap1.SWINSNotSupported.Response()
	}
	u2f, err := a.u2fAuthenticator()
	if err != nil {
		a.log.Error("U2F is unavailable", "err", err)
		return ctap1.SWNoPreciseDiagnosis.Response()
	}
	return u2f.Handle(ctx, apdu)
}

// u2fEnabled reports whether the authenticator speaks U2F: unless alwaysUv
// is on.
func (a *Authenticator) u2fEnabled() bool { return !a.pin.AlwaysUV }

// u2fVersions is what U2F adds to getInfo's versions.
func (a *Authenticator) u2fVersions() []string {
	if !a.u2fEnabled() {
		return nil
	}
	return []string{ctap1.Version}
}

// u2fAuthenticator returns the U2F side, made on first use: its attestation
// key is certified by vauth's own CA, kept in the keystore like the one of
// packed attestation. A failure is not kept, so the next message tries
// again.
func (a *Authenticator) u2fAuthenticator() (*ctap1.Authenticator, error) {
	if a.u2f != nil {
		return a.u2f, nil
	}
	ca, err := attestation.LoadOrCreateCA(a.keystore)
	if err != nil {
		return nil, err
	}
	attester, err := attestation.U2F(ca, a.keystore)
	if err != nil {
		return nil, err
	}
	cfg := ctap1.Config{Keystore: a.keystore, Attester: attester, Logger: a.log}
	if a.presence != nil {
		cfg.Presence = a.u2fPresence
	}
	u2f, err := ctap1.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("U2F: %w", err)
	}
	a.u2f = u2f
	return u2f, nil
}

// u2fPresence asks Config.Presence about a U2F request, as the CTAP2
// operation it maps to (CTAP 2.1 §10.2, §10.3). U2F names the site only by
// its hash, so the prompt cannot show it.
func (a *Authenticator) u2fPresence(ctx context.Context, ins byte, _ [32]byte) error {
	op := "getAssertion"
	if ins == ctap1.InsRegister {
		op = "makeCredential"
	}
	return a.presence.Confirm(ctx, PresenceRequest{Op: op})
}
