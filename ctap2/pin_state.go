package ctap2

import (
	"errors"
	"fmt"
	"slices"

	"github.com/fxamacker/cbor/v2"

	"github.com/vauth/vauth/ctap2/pinuv"
	"github.com/vauth/vauth/keystore"
)

// pinStateBlob names the keystore blob that holds pinState. The keystore
// seals it, and authenticatorReset deletes it with every other blob.
const pinStateBlob = "ctap2/pin-state"

// pinStateVersion is the version of the pinState record. A record of
// another version is refused rather than misread: losing the retry counter
// would hand out free PIN guesses.
const pinStateVersion = 1

// Limits of the persisted settings.
const (
	// MaxUVRetries is the value of the uvRetries counter after a successful
	// user verification; at 0 built-in user verification is blocked until
	// the PIN is entered correctly (or authenticatorReset).
	MaxUVRetries = 8
	// MaxRPIDsForSetMinPINLength is how many RP IDs setMinPINLength's
	// minPinLengthRPIDs may name, reported in getInfo.
	MaxRPIDsForSetMinPINLength = 8
)

// pinState is the persistent PIN and configuration state of CTAP 2.1: the
// PIN (only LEFT(SHA-256(PIN), 16), never the PIN itself), the pinRetries
// and uvRetries counters, and the settings of authenticatorConfig. It is
// one small CBOR record, written durably before the command that changed
// it answers. The struct tags are the record's integer keys.
type pinState struct {
	Version int `cbor:"0,keyasint"`
	// PINHash is CurrentStoredPIN, LEFT(SHA-256(PIN), 16); nil when no PIN
	// is set.
	PINHash []byte `cbor:"1,keyasint,omitempty"`
	// PINCodePointLength is the length of the PIN in Unicode code points,
	// which setMinPINLength compares with the new minimum.
	PINCodePointLength int `cbor:"2,keyasint,omitempty"`
	PINRetries         int `cbor:"3,keyasint"`
	UVRetries          int `cbor:"4,keyasint"`
	// ForcePINChange is getInfo's forcePINChange: no pinUvAuthToken is
	// issued with the PIN until it is changed.
	ForcePINChange bool `cbor:"5,keyasint,omitempty"`
	// MinPINLength is the current minimum PIN length in code points.
	MinPINLength int `cbor:"6,keyasint"`
	// MinPINLengthRPIDs are the RP IDs that may learn MinPINLength (the
	// minPinLength extension).
	MinPINLengthRPIDs []string `cbor:"7,keyasint,omitempty"`
	// AlwaysUV is getInfo's alwaysUv.
	AlwaysUV bool `cbor:"8,keyasint,omitempty"`
	// EnterpriseAttestation is set by enableEnterpriseAttestation; getInfo
	// reports it as "ep" when the authenticator is capable.
	EnterpriseAttestation bool `cbor:"9,keyasint,omitempty"`
	// PersistentToken is CTAP 2.2's persistentPinUvAuthToken, nil until
	// first issued; a PIN change drops it (persistent_token.go). An older
	// vauth reading the record ignores the key.
	PersistentToken []byte `cbor:"10,keyasint,omitempty"`
	// DeviceIdentifier is what getInfo's encIdentifier encrypts: random,
	// made with the first persistent token, kept until
	// authenticatorReset.
	DeviceIdentifier []byte `cbor:"11,keyasint,omitempty"`
}

// defaultPINState is the state of a new (or reset) authenticator.
func defaultPINState() pinState {
	return pinState{
		Version:      pinStateVersion,
		PINRetries:   pinuv.MaxPINRetries,
		UVRetries:    MaxUVRetries,
		MinPINLength: pinuv.MinPINLength,
	}
}

// hasPIN reports whether a PIN is set: getInfo's clientPin option.
func (s *pinState) hasPIN() bool { return s.PINHash != nil }

// loadPINState reads the persisted state, or returns the default one when
// there is none yet.
func loadPINState(ks keystore.Keystore) (pinState, error) {
	raw, err := ks.GetBlob(pinStateBlob)
	if errors.Is(err, keystore.ErrNotFound) {
		return defaultPINState(), nil
	} else if err != nil {
		return pinState{}, fmt.Errorf("reading the PIN state: %w", err)
	}
	var s pinState
	if err := cbor.Unmarshal(raw, &s); err != nil {
		return pinState{}, fmt.Errorf("decoding the PIN state: %w", err)
	}
	if err := s.check(); err != nil {
		return pinState{}, fmt.Errorf("PIN state: %w", err)
	}
	return s, nil
}

// check validates a decoded record.
func (s *pinState) check() error {
	switch {
	case s.Version != pinStateVersion:
		return fmt.Errorf("record version %d, this vauth reads version %d", s.Version, pinStateVersion)
	case s.PINHash != nil && len(s.PINHash) != pinuv.PINHashLength:
		return fmt.Errorf("PIN hash of %d bytes", len(s.PINHash))
	case s.PINRetries < 0 || s.PINRetries > pinuv.MaxPINRetries:
		return fmt.Errorf("pinRetries %d", s.PINRetries)
	case s.UVRetries < 0 || s.UVRetries > MaxUVRetries:
		return fmt.Errorf("uvRetries %d", s.UVRetries)
	case s.MinPINLength < pinuv.MinPINLength || s.MinPINLength > pinuv.MaxPINLength:
		return fmt.Errorf("minimum PIN length %d", s.MinPINLength)
	case len(s.MinPINLengthRPIDs) > MaxRPIDsForSetMinPINLength:
		return fmt.Errorf("%d minPinLengthRPIDs", len(s.MinPINLengthRPIDs))
	case s.PersistentToken != nil && len(s.PersistentToken) != pinuv.PinUvAuthTokenLength:
		return fmt.Errorf("persistent pinUvAuthToken of %d bytes", len(s.PersistentToken))
	case s.DeviceIdentifier != nil && len(s.DeviceIdentifier) != deviceIdentifierLength:
		return fmt.Errorf("device identifier of %d bytes", len(s.DeviceIdentifier))
	}
	return nil
}

// updatePINState changes the state with edit and writes it durably; the
// authenticator's copy changes only when the write succeeded, so that what
// it acts on is always what is on disk.
func (a *Authenticator) updatePINState(edit func(s *pinState)) error {
	next := a.pin
	next.PINHash = slices.Clone(a.pin.PINHash)
	next.MinPINLengthRPIDs = slices.Clone(a.pin.MinPINLengthRPIDs)
	next.PersistentToken = slices.Clone(a.pin.PersistentToken)
	next.DeviceIdentifier = slices.Clone(a.pin.DeviceIdentifier)
	edit(&next)
	raw, err := encMode.Marshal(next)
	if err != nil {
		return fmt.Errorf("encoding the PIN state: %w", err)
	}
	if err := a.keystore.PutBlob(pinStateBlob, raw); err != nil {
		return fmt.Errorf("writing the PIN state: %w", err)
	}
	a.pin = next
	return nil
}
