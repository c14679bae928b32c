package ctap1

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/vauth/vauth/keystore"
)

// flagUserPresence is bit 0 of the user presence byte of an authentication
// response: the user was there.
const flagUserPresence = 0x01

// credProtectUVRequired is credProtect's userVerificationRequired level
// (CTAP 2.1 §12.1): such a credential needs user verification, which U2F
// cannot do.
const credProtectUVRequired = 0x03

// authenticate is U2F_AUTHENTICATE (FIDO U2F Raw Message Formats §5): the
// data is challenge (32) || application (32) || key handle length (1) ||
// key handle. With control byte check-only it answers
// SW_CONDITIONS_NOT_SATISFIED when the key handle is this authenticator's
// for the application; otherwise it answers user presence (1) ||
// counter (4) || signature over application || user presence || counter ||
// challenge, after the user approved for enforce-user-presence-and-sign.
// A key handle that is not this authenticator's, or not for this
// application, or a control byte that U2F does not define, is
// SW_WRONG_DATA.
func (a *Authenticator) authenticate(ctx context.Context, c command) ([]byte, error) {
	const fixed = challengeSize + applicationSize + 1
	if len(c.data) < fixed || len(c.data) != fixed+int(c.data[fixed-1]) {
		return nil, statusErrorf(SWWrongLength, "U2F_AUTHENTICATE with %d bytes of data", len(c.data))
	}
	challenge := c.data[:challengeSize]
	application := [applicationSize]byte(c.data[challengeSize:])
	keyHandle := c.data[fixed:]
	switch c.p1 {
	case AuthCheckOnly, AuthEnforceUserPresence, AuthDontEnforceUserPresence:
	default:
		return nil, statusErrorf(SWWrongData, "control byte 0x%02x", c.p1)
	}
	cred, err := a.credential(application, keyHandle)
	if err != nil {
		return nil, err
	}
	if c.p1 == AuthCheckOnly {
		return nil, statusErrorf(SWConditionsNotSatisfied, "check-only: the key handle is this authenticator's")
	}
	resp, err := a.sign(ctx, c.p1 == AuthEnforceUserPresence, cred, challenge, application)
	a.logOutcome("U2F authentication", err, application, "up", c.p1 == AuthEnforceUserPresence)
	return resp, err
}

// credential finds the credential of a key handle for an application: a
// non-discoverable ES256 credential that needs no user verification. U2F
// registrations are such credentials; CTAP2 ones are usable when they are
// too. Discoverable credentials are not, as CTAP 2.1 reserves them for
// CTAP2 (credentials made over U2F are never discoverable).
func (a *Authenticator) credential(application [32]byte, keyHandle []byte) (*keystore.Credential, error) {
	cred, err := a.keystore.Lookup(application, keyHandle)
	switch {
	case errors.Is(err, keystore.ErrNotFound):
		return nil, statusErrorf(SWWrongData, "the key handle is not this authenticator's for this application")
	case err != nil:
		return nil, fmt.Errorf("looking up the key handle: %w", err)
	case cred.Discoverable:
		return nil, statusErrorf(SWWrongData, "the key handle is a discoverable credential")
	case cred.Algorithm != keystore.ES256:
		return nil, statusErrorf(SWWrongData, "the key handle is a credential of COSE algorithm %d, not ES256", cred.Algorithm)
	case cred.CredProtect >= credProtectUVRequired:
		return nil, statusErrorf(SWWrongData, "the key handle's credential requires user verification (credProtect %d)", cred.CredProtect)
	}
	return cred, nil
}

// sign makes the authentication response, after asking the user when up.
func (a *Authenticator) sign(ctx context.Context, up bool, cred *keystore.Credential, challenge []byte, application [32]byte) ([]byte, error) {
	var userPresence byte
	if up {
		if !a.userPresence(ctx, presenceKey{ins: InsAuthenticate, application: application, keyHandle: string(cred.ID)}) {
			return nil, statusErrorf(SWConditionsNotSatisfied, "waiting for the user to approve the authentication")
		}
		userPresence = flagUserPresence
	}
	counter, err := a.keystore.NextCounter(cred)
	if err != nil {
		return nil, fmt.Errorf("signature counter: %w", err)
	}
	head := binary.BigEndian.AppendUint32([]byte{userPresence}, counter)
	sig, err := a.keystore.Sign(cred, slices.Concat(application[:], head, challenge))
	if err != nil {
		return nil, fmt.Errorf("signing: %w", err)
	}
	return append(head, sig...), nil
}
