package ctap2

import (
	"fmt"
	"unicode/utf8"

	"github.com/vauth/vauth/ctap2/pinuv"
	"github.com/vauth/vauth/keystore"
)

// This file holds what the control API and the test fixture do to an
// authenticator from outside CTAP, as Chromium's virtual authenticator lets
// tests read and mutate its State: each method takes the authenticator's
// lock, so it never runs in the middle of a command.

// PINStatus is the PIN and user-verification state a test can read.
type PINStatus struct {
	PINSet         bool // getInfo's clientPin
	PINRetries     int
	UVRetries      int
	ForcePINChange bool
	MinPINLength   int
	AlwaysUV       bool
}

// PINStatus returns the current PIN state.
func (a *Authenticator) PINStatus() PINStatus {
	a.mu.Lock()
	defer a.mu.Unlock()
	return PINStatus{
		PINSet:         a.pin.hasPIN(),
		PINRetries:     a.pin.PINRetries,
		UVRetries:      a.pin.UVRetries,
		ForcePINChange: a.pin.ForcePINChange,
		MinPINLength:   a.pin.MinPINLength,
		AlwaysUV:       a.pin.AlwaysUV,
	}
}

// PINChange says what SetPINState changes; nil fields stay as they are.
type PINChange struct {
	// PIN is the new PIN, checked against the PIN rules and the minimum
	// length as setPIN would; "" removes the PIN, which CTAP itself can
	// only do with authenticatorReset. A new PIN restores pinRetries.
	PIN *string
	// PINRetries and UVRetries set the persistent retry counters (0 to
	// pinuv.MaxPINRetries, 0 to MaxUVRetries): 0 blocks the PIN or
	// built-in user verification.
	PINRetries *int
	UVRetries  *int
	// ForcePINChange makes the next use of the PIN fail until it is
	// changed, as setMinPINLength's forceChangePin does.
	ForcePINChange *bool
}

// SetPINState changes the persistent PIN state, durably, and voids every
// pinUvAuthToken issued before, as a PIN change does.
func (a *Authenticator) SetPINState(c PINChange) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	var hash []byte
	var codePoints int
	if c.PIN != nil && *c.PIN != "" {
		if len(*c.PIN) > pinuv.MaxPINLength {
			return fmt.Errorf("ctap2: a PIN has at most %d bytes", pinuv.MaxPINLength)
		}
		padded := make([]byte, pinuv.PaddedPINLength)
		copy(padded, *c.PIN)
		pin, err := pinuv.DecodeNewPIN(padded, a.pin.MinPINLength)
		if err != nil {
			return fmt.Errorf("ctap2: %w", err)
		}
		h := pinuv.PINHash(pin)
		hash, codePoints = h[:], utf8.RuneCount(pin)
	}
	switch {
	case c.PINRetries != nil && (*c.PINRetries < 0 || *c.PINRetries > pinuv.MaxPINRetries):
		return fmt.Errorf("ctap2: pinRetries %d: want 0 to %d", *c.PINRetries, pinuv.MaxPINRetries)
	case c.UVRetries != nil && (*c.UVRetries < 0 || *c.UVRetries > MaxUVRetries):
		return fmt.Errorf("ctap2: uvRetries %d: want 0 to %d", *c.UVRetries, MaxUVRetries)
	case c.ForcePINChange != nil && *c.ForcePINChange && hash == nil && (c.PIN != nil || !a.pin.hasPIN()):
		return fmt.Errorf("ctap2: forcePINChange without a PIN")
	}
	err := a.updatePINState(func(s *pinState) {
		if c.PIN != nil {
			s.PINHash, s.PINCodePointLength, s.PINRetries, s.ForcePINChange = hash, codePoints, pinuv.MaxPINRetries, false
			s.PersistentToken = nil // as changePIN drops it
		}
		if c.PINRetries != nil {
			s.PINRetries = *c.PINRetries
		}
		if c.UVRetries != nil {
			s.UVRetries = *c.UVRetries
		}
		if c.ForcePINChange != nil {
			s.ForcePINChange = *c.ForcePINChange
		}
	})
	if err != nil {
		return err
	}
	a.pinMismatches = 0
	a.resetPinUvAuthTokens()
	return nil
}

// Reset does what authenticatorReset does (every credential, the PIN and
// the settings gone, the device secrets renewed), without asking the user
// and without its 10-second window after power-up.
func (a *Authenticator) Reset() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.assertions, a.enumeration = nil, nil
	return a.resetState()
}

// DeleteCredential deletes a discoverable credential, as credential
// management's deleteCredential does, and reports it to the Observer.
// keystore.ErrNotFound when there is no such discoverable credential.
func (a *Authenticator) DeleteCredential(id []byte) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	c, err := a.findDiscoverable(id)
	if err != nil {
		return fmt.Errorf("ctap2: %w", err)
	}
	if c == nil {
		return keystore.ErrNotFound
	}
	if err := a.keystore.Delete(c.ID); err != nil {
		return fmt.Errorf("ctap2: deleting the credential: %w", err)
	}
	a.observe(EventDeleted, c.RPID, c.User, c, nil)
	return nil
}

// UpdateUser renames the user of a discoverable credential, as credential
// management's updateUserInformation does (the user ID stays the
// credential's), and logs it as that does. A nil name or displayName keeps
// the current one; a name over 64 bytes is truncated as makeCredential
// truncates it. keystore.ErrNotFound when there is no such discoverable
// credential.
func (a *Authenticator) UpdateUser(id []byte, name, displayName *string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	c, err := a.findDiscoverable(id)
	if err != nil {
		return fmt.Errorf("ctap2: %w", err)
	}
	if c == nil {
		return keystore.ErrNotFound
	}
	u := userEntity{ID: c.User.ID, Name: c.User.Name, DisplayName: c.User.DisplayName}
	if name != nil {
		u.Name = *name
	}
	if displayName != nil {
		u.DisplayName = *displayName
	}
	err = a.updateUser(c, u)
	a.logCredMgmt("credential user updated", err, c)
	return err
}
