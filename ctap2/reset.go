package ctap2

import (
	"fmt"
	"time"

	"github.com/vauth/vauth/keystore"
)

// resetWindow is how long after power-up authenticatorReset is allowed
// (CTAP 2.1 §6.6, for USB).
const resetWindow = 10 * time.Second

// reset is authenticatorReset (CTAP 2.1 §6.6): after the user confirms, and
// only within 10 seconds of power-up, it deletes every credential, the PIN
// and the settings, voids every pinUvAuthToken and renews the device
// secrets.
func (a *Authenticator) reset(r *request) (any, error) {
	err := a.doReset(r)
	a.logOutcome("reset", err)
	return nil, err
}

func (a *Authenticator) doReset(r *request) error {
	if since := a.clock.Now().Sub(a.powerUp); since > resetWindow {
		return statusErrorf(CTAP2ErrNotAllowed, "reset %v after power-up, later than %v", since.Round(time.Second), resetWindow)
	}
	if err := a.userPresence(r, PresenceRequest{Op: "reset"}); err != nil {
		return err
	}
	return a.resetState()
}

// resetState is what authenticatorReset does once it is allowed.
func (a *Authenticator) resetState() error {
	// The keystore deletes the PIN state blob with the others.
	if err := a.keystore.Reset(); err != nil {
		return fmt.Errorf("resetting the keystore: %w", err)
	}
	a.pin = defaultPINState()
	a.pinMismatches = 0
	a.largeBlobWrite = nil
	a.resetPinUvAuthTokens()
	a.newPINToken20() // a reset key is a new key
	a.observe(EventReset, "", keystore.User{}, nil, nil)
	return nil
}
